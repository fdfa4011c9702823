"""The real DAG, run by Airflow (`airflow dags test`), against PostgreSQL and the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools import run_dag
from devtools.graph_emulator.process import EmulatorAdmin, start_emulator
from tests.factory import Konektor

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator():
    with start_emulator() as emu:
        yield emu


def graph_conn(emulator) -> str:
    return json.dumps({"conn_type": "http", "host": emulator.base_url, "extra": {"api_version": "v25.0"}})


def test_dag_run_syncs_every_change_and_a_second_run_sends_nothing(db_uri, airflow_home, emulator):
    meta = EmulatorAdmin(emulator.base_url)
    meta.reset(pixels=True)
    k = Konektor(db_uri)
    ws = k.workspace(1)
    k.pixel(ws, "4000000000000001", token="EAAsecretE2Etoken", waba="900000000000001")
    k.pixel(ws, "4000000000000002", token="EAAwrongtoken")
    k.session(ws, "+62 812-1111-2222", "900000000000011")
    meta.register_pixels({"4000000000000001": "EAAsecretE2Etoken", "4000000000000002": "EAAanothertoken"})
    plain = k.lead(ws, email="dewi@example.com", phone="+62 857 1111 2222")
    ctwa = k.lead(ws, ctwa_clid="ARAclid", agent_phone="0812 1111 2222")
    c1 = k.change(plain, "new")
    c2 = k.change(ctwa, "new")
    c3 = k.change(plain, "won")  # no deal value

    code = run_dag.run_dag(db_uri, graph_conn(emulator))

    rows = {(r["status_change_id"], r["pixel_id"]): r for r in k.sync_logs()}
    good, bad = "4000000000000001", "4000000000000002"
    assert len(rows) == 6
    assert rows[(c1, good)]["status"] == "accepted"
    assert rows[(c2, good)]["status"] == "accepted"
    assert rows[(c2, good)]["event_name"] == "LeadSubmitted"
    assert rows[(c2, good)]["waba_id"] == "900000000000011"
    assert rows[(c3, good)]["status"] == "skipped"
    # The pixel whose token Meta refuses fails on its own; the other pixel's events went through.
    assert rows[(c1, bad)]["status"] == rows[(c2, bad)]["status"] == "failed"
    assert rows[(c1, bad)]["error_code"] == 190
    assert rows[(c3, bad)]["status"] == "skipped"
    assert code != 0  # a run with failed events is a failed run
    log = (Path(airflow_home) / "last_run.log").read_text()
    assert "'label': 'workspace 1'" in log  # readable map-index names
    # the task says which pixel failed and why (not the commonest skip reason of the group)
    assert "2 event(s) of workspace 1 failed: pixel 4000000000000002: 2 (meta error 190" in log
    for secret in ("EAAsecretE2Etoken", "EAAwrongtoken", "dewi@example.com"):
        assert secret not in log
        assert not any(secret in p.read_text(errors="replace") for p in Path(airflow_home).rglob("*.log"))

    # The operator fixes the token; the next run retries only what failed, and resends nothing accepted.
    k.execute("UPDATE meta_pixels SET capi_access_token = 'EAAanothertoken' WHERE pixel_id = %s", (bad,))
    before = meta.stats()["events_received"]
    assert run_dag.run_dag(db_uri, graph_conn(emulator)) == 0
    rows = {(r["status_change_id"], r["pixel_id"]): r for r in k.sync_logs()}
    assert rows[(c1, bad)]["status"] == rows[(c2, bad)]["status"] == "accepted"
    assert meta.stats()["events_received"] - before == 2
    assert meta.stats()["duplicates"] == 0
    k.close()
