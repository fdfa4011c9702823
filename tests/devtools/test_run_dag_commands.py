"""`make demo`, `make sync` and `make backfill` end to end (Airflow, PostgreSQL, the emulator): the demo
keeps off an operator's database and Graph API, a command prints its own run, DRY_RUN=True is a dry run."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from devtools import run_dag
from devtools.graph_emulator.process import EmulatorAdmin, start_emulator
from tests.factory import Konektor, now

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PIXEL, TOKEN = "8000000000000001", "EAAoperatorSECRET"


@pytest.fixture(scope="module")
def emulator():
    with start_emulator() as emu:
        yield emu


@pytest.fixture
def operator(db_uri, emulator, monkeypatch):
    """An operator's setup after `make sync`: both connections exported, a database with history."""
    meta = EmulatorAdmin(emulator.base_url)
    meta.reset(pixels=True)
    meta.register_pixels({PIXEL: TOKEN})
    k = Konektor(db_uri)
    ws = k.workspace(1)
    k.pixel(ws, PIXEL, token=TOKEN)
    change = k.change(k.lead(ws), "new", ago=timedelta(hours=2))
    graph = json.dumps({"conn_type": "http", "host": emulator.base_url, "extra": {"api_version": "v25.0"}})
    monkeypatch.setenv("AIRFLOW_CONN_KONEKTOR_DB", db_uri)
    monkeypatch.setenv("AIRFLOW_CONN_META_CAPI", graph)
    yield k, meta, change
    k.close()


def snapshot(k: Konektor) -> dict:
    tables = ("workspaces", "meta_pixels", "leads", "lead_status_changes", "sync_logs", "sync_runs")
    return {t: k.execute(f"SELECT * FROM {t} ORDER BY 1") for t in tables}


def test_demo_seeds_only_its_own_database_and_sends_only_to_its_own_emulator(operator, airflow_home, capsys):
    k, meta, change = operator
    k.execute("INSERT INTO sync_logs (status_change_id, pixel_id, lead_id, workspace_id, event_id, "
              "event_time, status) SELECT id, %s, lead_id, 1, 'e1', changed_at, 'accepted' "
              "FROM lead_status_changes", (PIXEL,))  # fmt: skip
    before = snapshot(k)

    code = run_dag.main(["demo", "--leads", "10"])

    out, err = capsys.readouterr()
    assert snapshot(k) == before
    assert meta.stats()["requests"] == 0  # the operator's Graph API heard nothing
    assert code == 0, out + err
    assert "AIRFLOW_CONN_KONEKTOR_DB is set; the demo ignores it and uses its own embedded database" in err
    assert "AIRFLOW_CONN_META_CAPI is set; the demo ignores it" in err
    assert "into database konektor_demo on the embedded PostgreSQL" in out
    assert "emulator: " in out and k.dsn not in out + err


def test_sync_prints_the_summary_of_its_own_run(operator, airflow_home, capsys):
    k, meta, change = operator
    # another run (a backfill started later, or another operator's) with a newer summary
    other = {"mode": "backfill", "window_start": "OTHER-RUN-START", "window_end": "x", "outcomes": []}
    k.execute("INSERT INTO sync_runs (run_id, mode, window_start, window_end, started_at, summary) VALUES "
              "('other-run', 'backfill', now() - interval '2 days', now(), now() + interval '1 hour', %s)",
              (json.dumps(other),))  # fmt: skip

    code = run_dag.main(["sync"])

    out = capsys.readouterr().out
    assert "OTHER-RUN" not in out
    [(own,)] = k.execute("SELECT run_id FROM sync_runs WHERE run_id <> 'other-run'")
    assert f"run {own}\n" in out and "(hourly)" in out
    assert code == 0, out
    assert re.search(rf"{PIXEL}\s+Lead\s+1\s", out)
    log = Path(re.search(r"\(log: (\S+)\)", out).group(1))
    assert log.parent == airflow_home / "runs" and own in log.read_text()
    assert (airflow_home / "last_run.log").resolve() == log.resolve()
    assert [r["status"] for r in k.sync_logs()] == ["accepted"]


def test_make_backfill_dry_run_true_sends_and_records_nothing(operator, airflow_home):
    k, meta, change = operator
    env = {key: value for key, value in os.environ.items() if not key.startswith("KONEKTOR_DEV")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "plugins"), str(REPO)])  # this checkout's core
    start = (now() - timedelta(days=1)).isoformat()

    result = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "backfill",
                             f"START={start}", f"PIXELS={PIXEL}", "DRY_RUN=True"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "dry run" in result.stdout and "would send (dry run):" in result.stdout
    assert meta.stats()["events_received"] == 0
    assert k.sync_logs() == []
    assert k.execute("SELECT mode, dry_run, pixel_ids FROM sync_runs") == [("backfill", True, [PIXEL])]


def test_sync_without_connections_is_the_dev_run_and_says_so(airflow_home, monkeypatch, capsys):
    for var in ("AIRFLOW_CONN_KONEKTOR_DB", "AIRFLOW_CONN_META_CAPI", "KONEKTOR_DEV_EMULATOR"):
        monkeypatch.delenv(var, raising=False)
    run_dag._demo_database(leads=5)
    capsys.readouterr()

    code = run_dag.main(["sync"])

    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "are not set: dev run on the embedded demo database (konektor_demo" in err
    assert "nothing reaches Meta" in err
    assert "emulator: " in out
