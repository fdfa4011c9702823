"""Shared fixtures: a real PostgreSQL (embedded unless KONEKTOR_TEST_PG_URI is given) and the emulator."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import psycopg2
import pytest

from devtools import embedded_pg
from devtools.demo_data import apply_schemas

# The emulator, meta, konektor and client fixtures (and sync_once), visible to every test.
pytest_plugins = ["tests.fixtures"]

_counter = itertools.count()

# The kinds of test, registered in pyproject.toml; every test carries exactly one (`pytest -m unit`, ...).
KINDS = ("unit", "integration", "e2e", "deploy", "bench")
# A unit test starts no server: one that reaches either of these is an integration test.
SERVERS = ("pg_server", "emulator")


@pytest.hookimpl(tryfirst=True)  # before -m deselects: every collected test is checked, whatever runs
def pytest_collection_modifyitems(config, items):
    wrong = []
    for item in items:
        kinds = sorted({mark.name for mark in item.iter_markers() if mark.name in KINDS})
        servers = [name for name in SERVERS if name in getattr(item, "fixturenames", ())]
        if len(kinds) != 1:
            wrong.append(f"  {item.nodeid}: {' and '.join(kinds) if kinds else 'no kind marker'}")
        elif kinds == ["unit"] and servers:
            wrong.append(f"  {item.nodeid}: marked unit but uses {', '.join(servers)}")
    if wrong:
        raise pytest.UsageError(
            f"each test needs exactly one of the markers {', '.join(KINDS)} (pytestmark = "
            "pytest.mark.<kind> in its module, or @pytest.mark.<kind> on the test), and a unit test no "
            "server:\n" + "\n".join(wrong)
        )


@pytest.fixture(scope="session")
def pg_server() -> str:
    """libpq URI of a server where the tests may create databases."""
    return os.environ.get("KONEKTOR_TEST_PG_URI") or embedded_pg.start()


@pytest.fixture
def db_uri(pg_server, request) -> str:
    """A fresh database with Konektor's and the pipeline's tables, for this test alone."""
    name = f"t_{os.getpid()}_{next(_counter)}"
    uri = embedded_pg.recreate_database(pg_server, name)
    conn = psycopg2.connect(uri)
    apply_schemas(conn)
    conn.close()
    yield uri
    conn = psycopg2.connect(pg_server)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture
def engine(db_uri):
    from konektor_capi.db import make_engine

    eng = make_engine(embedded_pg.sqlalchemy_url(db_uri))
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    """A private AIRFLOW_HOME (SQLite metadata) for tests that load or run DAGs."""
    home = tmp_path_factory.mktemp("airflow-home")
    os.environ["KONEKTOR_AIRFLOW_HOME"] = str(home)
    from devtools import stack

    stack.AIRFLOW_HOME = home
    env = stack.airflow_env()
    for key in ("AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER",
                "AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):  # fmt: skip
        os.environ[key] = env[key]
    return home
