"""The Airflow side reads the connections and fails a task at once, naming connection and field."""

from __future__ import annotations

import json
from types import SimpleNamespace

import psycopg2
import pytest

from konektor_capi.config_error import ConfigError

GOOD_META = {"conn_type": "http", "host": "http://127.0.0.1:9", "extra": {"api_version": "v25.0"}}
# A server that does not exist: a task that tried to use it would fail with another error.
NOWHERE_DB = "postgresql://konektor:hunter2secret@127.0.0.1:9/konektor"
RUN = {"run_id": "r", "mode": "hourly", "window_start": "2026-11-30T00:00:00+00:00",
       "window_end": "2026-11-30T01:00:00+00:00"}  # fmt: skip


@pytest.fixture
def conns(monkeypatch, airflow_home):
    def set_(meta=GOOD_META, db=NOWHERE_DB):
        for name, value in (("AIRFLOW_CONN_META_CAPI", meta), ("AIRFLOW_CONN_KONEKTOR_DB", db)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value if isinstance(value, str) else json.dumps(value))

    return set_


def meta_error() -> str:
    from konektor_capi_airflow.hooks import MetaCapiHook

    with pytest.raises(ConfigError) as caught:
        MetaCapiHook().get_settings()
    return str(caught.value)


def db_error() -> str:
    from konektor_capi_airflow.connections import konektor_db_url

    with pytest.raises(ConfigError) as caught:
        konektor_db_url()
    return str(caught.value)


@pytest.mark.unit
def test_a_missing_meta_capi_connection_is_an_error_not_metas_production_api(conns):
    conns(meta=None)
    message = meta_error()
    assert message == "connection 'meta_capi' is not defined: set AIRFLOW_CONN_META_CAPI or add it under " \
                      "Admin > Connections"  # fmt: skip


@pytest.mark.unit
def test_an_empty_variable_is_reported_as_such(conns):
    conns(meta=" ")
    assert meta_error() == "connection 'meta_capi': AIRFLOW_CONN_META_CAPI is empty"


@pytest.mark.unit
def test_broken_json_is_reported_as_such_without_its_text(conns):
    conns(meta='{"conn_type": "http", "host": "https://graph.facebook.com", "password": "hunter2secret"')
    message = meta_error()
    assert message.startswith("connection 'meta_capi': AIRFLOW_CONN_META_CAPI is not valid JSON (")
    assert "hunter2secret" not in message


@pytest.mark.unit
@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({**GOOD_META, "extra": {"api_version": "25"}}, "extra.api_version '25' is not like 'v25.0'"),
        ({**GOOD_META, "conn_type": "ftp"}, "conn_type 'ftp' is not one of http, https, meta_capi"),
        ({**GOOD_META, "host": "graph.facebook.com"}, "host 'graph.facebook.com' has no scheme"),
        ({**GOOD_META, "extra": {"timeout": 3}}, "extra has unknown key(s) 'timeout'"),
        ({**GOOD_META, "extra": {"event_names": {"won": "Won"}}}, "extra.event_names.won 'Won' is not"),
        ({**GOOD_META, "extra": '{"api_version": '}, "extra is not valid JSON"),
    ],
)
def test_the_hook_names_the_connection_and_the_field(conns, meta, message):
    conns(meta=meta)
    assert meta_error().startswith(f"connection 'meta_capi': {message}")


@pytest.mark.unit
def test_graph_api_config_is_the_hooks_path(conns):
    from konektor_capi_airflow.connections import graph_api_config

    conns(meta={**GOOD_META, "extra": {"api_version": "25"}})
    with pytest.raises(ConfigError, match="extra.api_version"):
        graph_api_config()
    conns(meta={**GOOD_META, "extra": {"api_version": "v24.0", "read_timeout": "2"}})
    config = graph_api_config()
    assert (config.base_url, config.api_version, config.read_timeout) == ("http://127.0.0.1:9", "v24.0", 2.0)


@pytest.mark.unit
def test_konektor_db_must_be_postgres_and_must_exist(conns):
    conns(db="mysql://konektor:hunter2secret@db:3306/konektor")
    message = db_error()
    assert message.startswith("connection 'konektor_db': conn_type 'mysql' is not PostgreSQL")
    assert "hunter2secret" not in message
    conns(db=None)
    assert db_error().startswith("connection 'konektor_db' is not defined: set AIRFLOW_CONN_KONEKTOR_DB")


@pytest.mark.unit
def test_the_test_button_shows_the_config_error(conns):
    from konektor_capi_airflow.hooks import MetaCapiHook

    conns(meta={**GOOD_META, "extra": {"api_version": "25"}})
    ok, message = MetaCapiHook().test_connection()
    assert not ok and message == "connection 'meta_capi': extra.api_version '25' is not like 'v25.0'"


def task_calls():
    from konektor_capi_airflow import tasks

    context = {"dag_run": SimpleNamespace(run_id="r", run_type="manual"), "params": {}}
    group = {"workspace_ids": [1], "pending": 1, "label": "workspace 1"}
    return {
        "open_run": lambda: tasks.open_run_task(context),
        "plan": lambda: tasks.plan_task(RUN),
        "sync": lambda: tasks.sync_group_task(RUN, group),
        "finish": lambda: tasks.finish_run_task(RUN),
    }


@pytest.mark.unit
@pytest.mark.parametrize("task", ["open_run", "plan", "sync", "finish"])
def test_every_task_checks_both_connections_before_it_reads_anything(conns, task):
    from airflow.sdk.exceptions import AirflowFailException

    # The database does not exist: reaching it would raise OperationalError, not a connection error.
    # The error fails the task without Airflow retries: waiting does not fix a connection.
    conns(meta={**GOOD_META, "extra": {"api_version": "25"}})
    with pytest.raises(AirflowFailException, match=r"^connection 'meta_capi': extra.api_version '25'"):
        task_calls()[task]()
    conns(meta=GOOD_META, db="mysql://konektor:hunter2secret@db:3306/konektor")
    with pytest.raises(AirflowFailException, match=r"^connection 'konektor_db': conn_type 'mysql'") as caught:
        task_calls()[task]()
    assert isinstance(caught.value.__cause__, ConfigError)
    assert "hunter2secret" not in str(caught.value)


@pytest.mark.integration
def test_open_run_with_a_wrong_meta_capi_writes_nothing(conns, db_uri):
    from airflow.sdk.exceptions import AirflowFailException

    conns(meta=None, db=db_uri)
    with pytest.raises(AirflowFailException, match="'meta_capi' is not defined"):
        task_calls()["open_run"]()
    conn = psycopg2.connect(db_uri)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM sync_runs")
        assert cur.fetchone()[0] == 0
    conn.close()
