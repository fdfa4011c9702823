"""`konektor-capi` as the production image runs it: the package alone, devtools not importable.

The command runs in a process where importing devtools fails, from a directory outside the checkout,
with only plugins/ on its path; Airflow and the emulator are started by the test, as the image's
deployment and Meta would be there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from devtools import stack
from devtools.graph_emulator.process import EmulatorAdmin, start_emulator
from konektor_capi_cli import foreground_run
from tests.factory import Konektor

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PIXEL, TOKEN = "8100000000000001", "EAAinstalledSECRET"
# The console script's body, with every import of devtools failing.
WITHOUT_DEVTOOLS = ("import sys; sys.modules['devtools'] = None; "
                    "from konektor_capi_cli.main import main; sys.exit(main())")  # fmt: skip


@pytest.fixture(scope="module")
def emulator():
    with start_emulator() as emu:
        yield emu


@pytest.fixture
def konektor(db_uri, emulator):
    meta = EmulatorAdmin(emulator.base_url)
    meta.reset(pixels=True)
    meta.register_pixels({PIXEL: TOKEN})
    k = Konektor(db_uri)
    ws = k.workspace(1)
    k.pixel(ws, PIXEL, token=TOKEN)
    k.change(k.lead(ws), "new", ago=timedelta(hours=2))
    yield k, meta
    k.close()


def konektor_capi(*argv: str, cwd: Path, **conns: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in stack.airflow_env().items() if not k.startswith(("AIRFLOW_CONN", "KONEKTOR_DEV"))}
    env.update({"PYTHONPATH": str(REPO / "plugins"), **conns})
    return subprocess.run([sys.executable, "-c", WITHOUT_DEVTOOLS, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def graph_conn(emulator) -> str:
    return json.dumps({"conn_type": "http", "host": emulator.base_url, "extra": {"api_version": "v25.0"}})


def test_sync_runs_the_dag_and_prints_its_summary_without_devtools(konektor, db_uri, emulator, airflow_home,
                                                                    tmp_path):  # fmt: skip
    k, meta = konektor
    stack.ensure_airflow_db(stack.airflow_env())  # the image's airflow-init does this

    result = konektor_capi("sync", cwd=tmp_path, AIRFLOW_CONN_KONEKTOR_DB=db_uri,
                           AIRFLOW_CONN_META_CAPI=graph_conn(emulator))  # fmt: skip

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [(run_id,)] = k.execute("SELECT run_id FROM sync_runs")
    assert f"run {run_id}\n" in result.stdout and "(hourly)" in result.stdout
    assert re.search(rf"{PIXEL}\s+Lead\s+1\s", result.stdout)
    assert [r["status"] for r in k.sync_logs()] == ["accepted"]
    assert meta.stats()["events_received"] == 1
    assert TOKEN not in result.stdout + result.stderr
    # where Airflow's metadata is not a SQLite file (the image's PostgreSQL), the run is found in its log
    log = Path(re.search(r"\(log: (\S+)\)", result.stdout).group(1))
    assert foreground_run.run_id_in_log(log.read_text()) == run_id


def test_check_pixels_works_without_devtools(konektor, db_uri, emulator, airflow_home, tmp_path):
    result = konektor_capi("check-pixels", cwd=tmp_path, AIRFLOW_CONN_KONEKTOR_DB=db_uri,
                           AIRFLOW_CONN_META_CAPI=graph_conn(emulator))  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"workspace 1  pixel {PIXEL}  OK  Emulated pixel {PIXEL}"]


@pytest.mark.parametrize("conns, message", [
    ({}, "konektor-capi sync: AIRFLOW_CONN_KONEKTOR_DB and AIRFLOW_CONN_META_CAPI are not set: set both"),
    ({"KONEKTOR_DEV_EMULATOR": "1"}, "KONEKTOR_DEV_EMULATOR=1 asks for the emulator, which exists only in"),
    ({"AIRFLOW_CONN_META_CAPI": "x"}, "AIRFLOW_CONN_META_CAPI is set but AIRFLOW_CONN_KONEKTOR_DB is not"),
])  # fmt: skip
def test_without_both_connections_it_refuses_rather_than_seek_stand_ins(conns, message, db_uri, konektor,
                                                                         airflow_home, tmp_path):  # fmt: skip
    if conns.get("KONEKTOR_DEV_EMULATOR"):
        conns = {**conns, "AIRFLOW_CONN_KONEKTOR_DB": db_uri}
    k, meta = konektor
    logs_before = sorted(airflow_home.glob("runs/*.log"))

    result = konektor_capi("sync", cwd=tmp_path, **conns)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert k.sync_logs() == [] and meta.stats()["requests"] == 0
    assert sorted(airflow_home.glob("runs/*.log")) == logs_before  # Airflow never started
