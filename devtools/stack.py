"""Starts the dev stand-ins a local run may use: the embedded PostgreSQL and the Graph API emulator.

Which of them a command uses is devtools.targets' decision; nothing here reads the connections.
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


# `airflow dags test` is a short-lived process that imports ~750k objects (Airflow, FastAPI/Cadwyn for the
# in-process Execution API, pandas): with CPython's default GC thresholds (700, 10, 10) it spent ~2.3 s in
# ~1,500 collections during a run with no pending work, and another ~2 s in the collections of
# interpreter shutdown. A larger first threshold (the same 10/10 ratios, so old objects are still
# collected) and freezing the heap once Airflow's own exit handlers have run cut both to ~0.5 s.
# KONEKTOR_AIRFLOW_GC=default runs the plain `airflow` script instead.
AIRFLOW_GC_THRESHOLDS = (10_000, 10, 10)


def airflow_cmd(*args: str) -> list[str]:
    """The command line of `airflow <args>`: the Airflow CLI itself, started as `python -m devtools.stack
    airflow <args>` (GC tuned as above) unless KONEKTOR_AIRFLOW_GC=default. The command line keeps
    "airflow dags test ...", which devtools.bench looks for to spot concurrent runs."""
    if os.environ.get("KONEKTOR_AIRFLOW_GC", "tuned") == "default":
        return [airflow_bin(), *args]
    return [sys.executable, "-m", "devtools.stack", "airflow", *args]


def run_airflow_cli(argv: list[str]) -> int:
    """`airflow <argv>` in this process (what the `airflow` console script does), GC tuned."""
    import atexit
    import gc

    gc.set_threshold(*AIRFLOW_GC_THRESHOLDS)
    # Registered before Airflow is imported, so it runs last: after Airflow's exit handlers (ORM dispose,
    # logging shutdown). Frozen objects are skipped by shutdown's collections; the OS frees the memory.
    atexit.register(gc.freeze)
    sys.argv = ["airflow", *argv]
    from airflow.__main__ import main

    return main() or 0


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


if __name__ == "__main__":  # python -m devtools.stack airflow <arguments>: see airflow_cmd()
    if sys.argv[1:2] != ["airflow"]:
        sys.exit("usage: python -m devtools.stack airflow <airflow CLI arguments>")
    sys.exit(run_airflow_cli(sys.argv[2:]))
