"""The real DAG (`airflow dags test`): a wrong connection stops the run at once; an echoed token is
kept nowhere (task logs, XCom, sync_logs, sync_runs, sync_run_groups)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from devtools import run_dag
from devtools.graph_emulator.process import EmulatorAdmin, start_emulator
from tests.factory import Konektor

pytestmark = pytest.mark.e2e

PIXEL, OTHER = "7200000000000001", "7200000000000002"
TOKEN = 'EAAfieldSafety+Tok/en"x" 42'
OTHER_TOKEN = "EAAfieldSafetyOther42"


@pytest.fixture(scope="module")
def emulator():
    with start_emulator() as emu:
        yield emu


def graph_conn(base_url: str, **extra) -> str:
    return json.dumps({"conn_type": "http", "host": base_url, "extra": {"api_version": "v25.0", **extra}})


def seeded(db_uri, meta) -> Konektor:
    meta.reset(pixels=True)
    k = Konektor(db_uri)
    ws = k.workspace(1)
    k.pixel(ws, PIXEL, token=TOKEN)
    k.pixel(ws, OTHER, token=OTHER_TOKEN)
    meta.register_pixels({PIXEL: TOKEN, OTHER: OTHER_TOKEN})
    for i in range(4):
        k.change(k.lead(ws, email=f"safe{i}@example.com"), "new")
    return k


def test_a_wrong_meta_capi_connection_fails_the_run_before_anything_is_read(db_uri, airflow_home, emulator):
    meta = EmulatorAdmin(emulator.base_url)
    k = seeded(db_uri, meta)

    code = run_dag.run_dag(db_uri, graph_conn(emulator.base_url, api_version="25"))

    log = (Path(airflow_home) / "last_run.log").read_text()
    assert code != 0
    assert "connection 'meta_capi': extra.api_version '25' is not like 'v25.0'" in log
    assert k.execute("SELECT count(*) FROM sync_runs")[0][0] == 0  # open_run stopped before its window
    assert k.sync_logs() == [] and meta.stats()["requests"] == 0
    k.close()


def test_an_echoed_token_is_kept_nowhere(db_uri, airflow_home, emulator):
    meta = EmulatorAdmin(emulator.base_url)
    k = seeded(db_uri, meta)
    # Meta answers the pixel's request with a 200 whose messages and fbtrace_id echo its token.
    meta.add_faults([{"kind": "echo_token", "pixel_id": PIXEL}])

    code = run_dag.run_dag(db_uri, graph_conn(emulator.base_url))

    statuses = {(r["pixel_id"], r["status"]) for r in k.sync_logs()}
    assert statuses == {(PIXEL, "partial_failure"), (OTHER, "accepted")}
    assert code == 0
    tables = ("sync_logs", "sync_runs", "sync_run_groups")
    kept = [repr(k.execute(f"SELECT * FROM {table}")) for table in tables]
    kept += [p.read_text(errors="replace") for p in Path(airflow_home).rglob("*.log")]
    with sqlite3.connect(Path(airflow_home) / "airflow.db") as airflow_db:
        kept.append(repr(airflow_db.execute("SELECT value FROM xcom").fetchall()))
    everything = "\n".join(kept)
    assert "meta took 3 of 4 events; access_token=***" in everything  # Meta's text is kept, masked
    for form in {TOKEN, quote(TOKEN, safe=""), quote(TOKEN), quote_plus(TOKEN), json.dumps(TOKEN)[1:-1]}:
        assert form not in everything and form[:8] not in everything.replace("EAAfieldSafetyOther", "")
    k.close()
