"""Starts the dev stand-ins a local run may use: the embedded PostgreSQL and the Graph API emulator.

Which of them a command uses is konektor_capi_cli.targets' decision; nothing here reads the connections.
`session()` hands them to the package's commands (`make sync`, `make backfill`, `make check-pixels`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

from devtools import embedded_pg
from konektor_capi_cli import airflow_process
from konektor_capi_cli.foreground_run import Airflow
from konektor_capi_cli.stand_ins import Session

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
    return airflow_process.airflow_bin()


def airflow_cmd(*args: str) -> list[str]:
    """`airflow <args>` as the operator commands start it (konektor_capi_cli.airflow_process)."""
    return airflow_process.airflow_cmd(*args)


def ensure_airflow_db(env: dict[str, str]) -> None:
    AIRFLOW_HOME.mkdir(exist_ok=True)
    if not (AIRFLOW_HOME / "airflow.db").exists():
        subprocess.run(airflow_cmd("db", "migrate"), env=env, check=True, stdout=subprocess.DEVNULL)


def reset_airflow_db() -> None:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


def recreate_demo_database(dbname: str) -> str:
    """A fresh, empty database `dbname` on the embedded server: the only place the demo seeds."""
    return embedded_pg.recreate_database(embedded_pg.start(), dbname)


def embedded_location() -> str:
    return f"the embedded PostgreSQL (data in {embedded_pg.data_dir()})"


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
def graph_api(configured: str | None, tokens: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()):
    """Yields (meta_capi connection value, emulator or None): `configured` as it is, else an emulator
    started for the block with `tokens` registered."""
    if configured:
        yield configured, None
        return
    from devtools.graph_emulator.process import EmulatorAdmin, start_emulator

    with start_emulator(extra_args=extra_args) as emulator:
        if tokens:
            EmulatorAdmin(emulator.base_url).register_pixels(tokens)
        yield json.dumps({"conn_type": "http", "host": emulator.base_url,
                          "extra": {"api_version": "v25.0"}}), emulator  # fmt: skip


class DevStandIns:
    """The embedded demo database and the Graph API emulator, for the package's commands."""

    def __init__(self, dbname: str = "konektor_demo"):
        self.dbname = dbname

    def database(self) -> str:
        return ensure_database(self.dbname)

    def pixel_tokens(self, db_uri: str) -> dict[str, str]:
        from devtools.demo_data import pixel_tokens

        return pixel_tokens(db_uri)

    @contextmanager
    def graph_api(self, tokens: dict[str, str]):
        from devtools.graph_emulator.process import EmulatorAdmin

        with graph_api(None, tokens) as (graph_conn, emulator):
            yield graph_conn, EmulatorAdmin(emulator.base_url).stats


def checkout_airflow() -> Airflow:
    """This checkout's Airflow (read at call time: tests and the benchmark point AIRFLOW_HOME elsewhere)."""
    return Airflow(airflow_env(), AIRFLOW_HOME)


def session() -> Session:
    """The operator commands as `make` runs them: this checkout's Airflow, the dev stand-ins."""
    return Session("make", checkout_airflow, DevStandIns(), prepare=_migrate)


def _migrate(airflow: Airflow) -> None:
    ensure_airflow_db(dict(airflow.env))


if __name__ == "__main__":  # the former launcher's command line: python -m devtools.stack airflow <arguments>
    import sys

    if sys.argv[1:2] != ["airflow"]:
        sys.exit("usage: python -m devtools.stack airflow <airflow CLI arguments>")
    sys.exit(airflow_process.run_airflow_cli(sys.argv[2:]))
