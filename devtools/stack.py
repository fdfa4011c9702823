"""Starts what a local run needs and is not given: the embedded PostgreSQL and the Graph API emulator.

A connection already set in the environment (AIRFLOW_CONN_KONEKTOR_DB, AIRFLOW_CONN_META_CAPI) is used
as it is, and no substitute is started for it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from devtools import embedded_pg

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = Path(os.environ.get("KONEKTOR_AIRFLOW_HOME", REPO / ".airflow"))


def airflow_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for running Airflow from this checkout: SQLite metadata, our dags and plugins."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(AIRFLOW_HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": env.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "plugins"), str(REPO),
                                                        env.get("PYTHONPATH", "")])),
        }
    )  # fmt: skip
    env.update(extra or {})
    return env


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def ensure_airflow_db(env: dict[str, str]) -> None:
    AIRFLOW_HOME.mkdir(exist_ok=True)
    if not (AIRFLOW_HOME / "airflow.db").exists():
        subprocess.run([airflow_bin(), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)


def reset_airflow_db() -> None:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


def konektor_db_uri(dbname: str | None = None) -> str:
    """The configured database, or a database on the embedded server (recreated when `dbname` is given)."""
    configured = os.environ.get("AIRFLOW_CONN_KONEKTOR_DB")
    if configured:
        return configured
    server = embedded_pg.start()
    if dbname:
        return embedded_pg.recreate_database(server, dbname)
    return embedded_pg.database_uri(server, "konektor")


def ensure_database(dbname: str = "konektor") -> str:
    """The embedded server's database `dbname`, created if missing (kept between runs)."""
    import psycopg2

    server = embedded_pg.start()
    conn = psycopg2.connect(server)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{dbname}"')
    conn.close()
    return embedded_pg.database_uri(server, dbname)


@contextmanager
def graph_api(tokens: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()):
    """Yields the meta_capi connection value: the configured one, or an emulator started for the block."""
    configured = os.environ.get("AIRFLOW_CONN_META_CAPI")
    if configured:
        yield configured, None
        return
    from devtools.graph_emulator.process import EmulatorAdmin, start_emulator

    with start_emulator(extra_args=extra_args) as emulator:
        if tokens:
            EmulatorAdmin(emulator.base_url).register_pixels(tokens)
        yield json.dumps({"conn_type": "http", "host": emulator.base_url,
                          "extra": {"api_version": "v25.0"}}), emulator  # fmt: skip
