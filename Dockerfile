# The team's Airflow image: the official one plus the pipeline's pinned runtime, the project package
# (core, Airflow shell, the meta_capi provider and the konektor-capi command), the DAG and the SQL files.
# Two stages:
#   production  what every Airflow service of docker-compose.yaml runs: no dev tools, no emulator
#   dev         production plus devtools/ (the Graph API emulator of the compose dev profile)
FROM apache/airflow:3.3.2-python3.11 AS production

# Runtime dependencies first: this layer changes only with requirements.txt. Airflow stays at the
# image's version (requirements.txt pins the same one), as the docker-stack docs recommend.
COPY --chown=airflow:root requirements.txt /opt/konektor/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/konektor/requirements.txt

# The project package (konektor_capi, konektor_capi_airflow, konektor_capi_cli from plugins/). Installing
# it registers the apache_airflow_provider entry point (the meta_capi connection type and its Test
# button) and the operator's console script: `docker compose exec airflow-worker konektor-capi sync`.
COPY --chown=airflow:root pyproject.toml /opt/konektor/pyproject.toml
COPY --chown=airflow:root plugins/ /opt/konektor/plugins/
RUN pip install --no-cache-dir --no-deps /opt/konektor

# SQL files (loaded by name through KONEKTOR_CAPI_SQL_DIR) and the DAG.
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root dags/ /opt/airflow/dags/
# The health page's plugin (wiring only; its package is installed above).
COPY --chown=airflow:root plugins/konektor_capi_health_plugin.py /opt/airflow/plugins/

ENV KONEKTOR_CAPI_SQL_DIR=/opt/airflow/include/sql \
    GX_ANALYTICS_ENABLED=False

# Development only: the Graph API emulator and the other dev tools. Its admin endpoints have no
# authentication, so it never ships in the production stage.
FROM production AS dev
COPY --chown=airflow:root devtools/ /opt/airflow/devtools/
