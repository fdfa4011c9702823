"""docker-compose.yaml and Dockerfile, checked statically (no Docker engine here): the services the
official Airflow 3 file has, the dev stand-ins behind a profile, an image that holds what the DAG
needs, and every variable the DAG reads set for every Airflow service."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = {
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
    "airflow-triggerer", "airflow-init",
}  # fmt: skip
DEV_SERVICES = {"konektor-db", "graph-emulator"}
ALL_SERVICES = AIRFLOW_SERVICES | DEV_SERVICES | {"postgres", "redis"}
_ENV_READ = re.compile(
    r"""os\.(?:environ(?:\.get|\.setdefault)?|getenv)\s*[\[(]\s*["']([A-Z][A-Z0-9_]*)["']"""
)
_DEFAULT = re.compile(r"^\$\{(\w+):-(.*)\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def default_of(value: str) -> str:
    match = _DEFAULT.match(value)
    return match.group(2) if match else value


def variables_the_dag_reads() -> set[str]:
    """Every os.environ / getenv name in dags/ and plugins/, plus AIRFLOW_CONN_<id> for each
    connection id that konektor_capi_airflow.connections reads. The konektor-capi command
    (konektor_capi_cli) is left out: an operator runs it, no Airflow service does."""
    names: set[str] = set()
    for path in [*(REPO / "dags").glob("*.py"), *(REPO / "plugins").rglob("*.py")]:
        if "konektor_capi_cli" not in path.parts:
            names |= set(_ENV_READ.findall(path.read_text()))
    tree = ast.parse((REPO / "plugins" / "konektor_capi_airflow" / "connections.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            names.add(f"AIRFLOW_CONN_{node.value.value.upper()}")
    return names


def test_every_expected_service_is_defined(services):
    assert set(services) == ALL_SERVICES


def test_dev_stand_ins_are_behind_the_dev_profile_and_nothing_else_is(services):
    for name, service in services.items():
        assert (service.get("profiles") == ["dev"]) == (name in DEV_SERVICES), name
    for name in AIRFLOW_SERVICES:  # a default `up` must not wait for a profile it does not start
        assert not set(services[name].get("depends_on") or {}) & DEV_SERVICES, name


def _stages(dockerfile: str) -> dict[str, str]:
    """Each build stage's text, by name."""
    parts = re.split(r"^(?=FROM )", dockerfile, flags=re.M)
    return {re.search(r" AS (\S+)", p).group(1): p for p in parts if p.startswith("FROM ")}


def _build(service: dict) -> dict:
    return service["build"] if isinstance(service["build"], dict) else {"context": service["build"]}


def test_airflow_services_share_the_production_image_and_the_emulator_has_its_own(services, dockerfile):
    for name in AIRFLOW_SERVICES:
        build = _build(services[name])
        assert (REPO / build["context"] / "Dockerfile").is_file(), name
        assert build["target"] == "production", name
        assert services[name]["image"] == services["airflow-apiserver"]["image"], name
    emulator = services["graph-emulator"]
    assert _build(emulator)["target"] == "dev"
    assert emulator["image"] != services["airflow-apiserver"]["image"]
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11 AS production$", dockerfile, re.M)
    assert re.search(r"^FROM production AS dev$", dockerfile, re.M)


def test_the_image_pins_the_airflow_version_of_requirements(dockerfile):
    pinned = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.txt").read_text(), re.M).group(1)
    assert f"apache/airflow:{pinned}-python3.11" in dockerfile
    assert re.search(r"pip install .*-r \S*requirements\.txt", dockerfile)
    assert re.search(r"pip install .*--no-deps /opt/konektor", dockerfile)  # the package and its provider


def _copied(text: str) -> list[str]:
    return [src for line in re.findall(r"^COPY (?:--\S+ )*(.+)$", text, re.M) for src in line.split()[:-1]]


def test_the_dockerfile_copies_what_exists_and_is_not_ignored(dockerfile):
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}  # fmt: skip
    stages = _stages(dockerfile)
    assert {"requirements.txt", "pyproject.toml", "plugins/", "include/", "dags/"} <= set(
        _copied(stages["production"])
    )
    assert "devtools/" in _copied(stages["dev"])
    for src in _copied(dockerfile):
        assert (REPO / src).exists(), src
        assert src.rstrip("/") not in ignored, src


def test_the_production_image_holds_no_dev_tools(dockerfile):
    production = _stages(dockerfile)["production"]
    assert not [src for src in _copied(production) if src.startswith(("devtools", "tests", "."))]
    for path in [*(REPO / "dags").glob("*.py"), *(REPO / "plugins").rglob("*.py")]:
        assert not re.search(r"^\s*(from|import) devtools", path.read_text(), re.M), path


def test_the_api_is_published_on_loopback_unless_told_otherwise(services):
    [port] = services["airflow-apiserver"]["ports"]
    bind = port.rsplit(":", 2)[0]
    assert default_of(bind) == "127.0.0.1"
    for name, service in services.items():
        for published in service.get("ports") or []:
            assert default_of(published.rsplit(":", 2)[0]) == "127.0.0.1", name


_REQUIRED = re.compile(r"^\$\{(\w+):\?.+\}$")


def test_secrets_and_connections_have_no_default_and_must_be_given(services):
    required = {"AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
                "AIRFLOW_CONN_KONEKTOR_DB", "AIRFLOW_CONN_META_CAPI"}  # fmt: skip
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        for key in required:
            assert _REQUIRED.match(env[key]), (name, key, env[key])
    assert _REQUIRED.match(env_of(services["airflow-init"])["_AIRFLOW_WWW_USER_PASSWORD"])


def test_compose_env_writes_fresh_secrets_once_and_keeps_what_is_there(tmp_path, capsys):
    from devtools import compose_env

    env_file = tmp_path / ".env"
    env_file.write_text("AIRFLOW_CONN_KONEKTOR_DB=postgresql://me@db/konektor\n")
    compose_env.main(["--path", str(env_file)])
    first = compose_env.read_env(env_file)
    assert first["AIRFLOW_CONN_KONEKTOR_DB"] == "postgresql://me@db/konektor"
    assert "AIRFLOW_CONN_META_CAPI" not in first  # never guessed outside --dev
    for key in ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY",
                "_AIRFLOW_WWW_USER_PASSWORD"):  # fmt: skip
        assert len(first[key]) >= 24, key
        assert first[key] not in capsys.readouterr().out
    assert len(__import__("base64").urlsafe_b64decode(first["AIRFLOW_FERNET_KEY"])) == 32
    assert env_file.stat().st_mode & 0o077 == 0
    compose_env.main(["--path", str(env_file)])
    assert compose_env.read_env(env_file) == first  # nothing regenerated
    other = tmp_path / "other.env"
    compose_env.main(["--path", str(other)])
    assert compose_env.read_env(other)["AIRFLOW_JWT_SECRET"] != first["AIRFLOW_JWT_SECRET"]


def test_executor_is_celery_with_a_worker(services):
    for name in AIRFLOW_SERVICES:
        assert env_of(services[name])["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
    assert services["airflow-worker"]["command"] == "celery worker"
    init_env = env_of(services["airflow-init"])
    assert init_env["_AIRFLOW_DB_MIGRATE"] == "true" and init_env["_AIRFLOW_WWW_USER_CREATE"] == "true"


def test_every_variable_the_dag_reads_is_set_for_every_airflow_service(services):
    needed = variables_the_dag_reads()
    assert {"AIRFLOW_CONN_KONEKTOR_DB", "AIRFLOW_CONN_META_CAPI", "KONEKTOR_CAPI_SQL_DIR",
            "KONEKTOR_TASK_RETRIES"} <= needed  # fmt: skip
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        missing = needed - {k for k, v in env.items() if v != ""}
        assert not missing, (name, missing)
        assert env["AIRFLOW__CORE__TEST_CONNECTION"] == "Enabled", name


def test_sql_dir_points_at_the_sql_copied_into_the_image(services, dockerfile):
    sql_dir = env_of(services["airflow-worker"])["KONEKTOR_CAPI_SQL_DIR"]
    include_dest = re.search(r"^COPY (?:--\S+ )*include/ (\S+)$", dockerfile, re.M).group(1)
    assert sql_dir == include_dest.rstrip("/") + "/sql"
    assert (REPO / "include" / "sql" / "extract_changes.sql").is_file()


def test_konektor_db_gets_konektors_schema_at_first_start(services):
    volumes = services["konektor-db"]["volumes"]
    [init] = [v for v in volumes if "/docker-entrypoint-initdb.d/" in v]
    source = init.split(":", 1)[0]
    assert source == "./include/sql/konektor_source_schema.sql"
    assert (REPO / source).is_file()


def test_graph_emulator_runs_the_devtools_emulator_on_all_interfaces(services):
    emulator = services["graph-emulator"]
    cmd = [*emulator["entrypoint"], *emulator["command"]]
    assert cmd[:3] == ["python", "-m", "devtools.graph_emulator"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "8765"


def test_the_dev_env_points_the_connections_at_the_dev_services(services, airflow_home, monkeypatch,
                                                                tmp_path):  # fmt: skip
    from devtools import compose_env
    from konektor_capi_airflow.connections import graph_api_config, konektor_db_url

    env_file = tmp_path / ".env"
    compose_env.main(["--dev", "--path", str(env_file)])
    env = compose_env.read_env(env_file)
    monkeypatch.setenv("AIRFLOW_CONN_META_CAPI", env["AIRFLOW_CONN_META_CAPI"])
    monkeypatch.setenv("AIRFLOW_CONN_KONEKTOR_DB", env["AIRFLOW_CONN_KONEKTOR_DB"])
    assert graph_api_config().base_url == "http://graph-emulator:8765"
    url = konektor_db_url()
    db_env = env_of(services["konektor-db"])
    assert (url.host, url.port, url.database) == ("konektor-db", 5432, db_env["POSTGRES_DB"])
    assert (url.username, url.password) == (db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"])


def test_the_celery_result_backend_names_an_installed_driver(services):
    backend = env_of(services["airflow-worker"])["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend.startswith("db+postgresql+psycopg2://")
    assert re.search(r"^psycopg2-binary==", (REPO / "requirements.txt").read_text(), re.M)


def test_the_deployments_dependencies_are_pinned(dockerfile):
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (REPO / "requirements.txt").read_text(), re.M))
    for package in ("apache-airflow-providers-celery", "apache-airflow-providers-fab", "celery", "asyncpg"):
        assert package in pins, package
    assert pins["celery"] != "5.7.0"  # fails to import under the Celery provider
