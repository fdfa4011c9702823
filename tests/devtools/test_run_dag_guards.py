"""`make sync` / `make backfill` stop before reading or sending when they are asked for something unsafe.

Each of these ends before Airflow starts: no run log is written under the test's AIRFLOW_HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from devtools import run_dag
from konektor_capi_cli import foreground_run
from tests.factory import now

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PIXEL = "6000000000000001"


@pytest.fixture
def user_db(konektor, db_uri, monkeypatch):
    """An operator's database: rows that a wrong run would read, send and record."""
    ws = konektor.workspace(1)
    konektor.pixel(ws, PIXEL, token="EAAuserSECRET")
    konektor.change(konektor.lead(ws), "new")
    monkeypatch.setenv("AIRFLOW_CONN_KONEKTOR_DB", db_uri)
    monkeypatch.delenv("AIRFLOW_CONN_META_CAPI", raising=False)
    monkeypatch.delenv("KONEKTOR_DEV_EMULATOR", raising=False)
    return konektor


def graph_conn(emulator) -> str:
    return json.dumps({"conn_type": "http", "host": emulator.base_url, "extra": {"api_version": "v25.0"}})


def runs_logged(airflow_home: Path) -> list[Path]:
    return sorted((airflow_home / "runs").glob("*.log"))


def untouched(konektor) -> bool:
    tables = ("sync_logs", "sync_runs", "sync_watermark")
    return all(konektor.execute(f"SELECT count(*) FROM {t}")[0][0] == 0 for t in tables)


@pytest.mark.parametrize("argv", [["sync"], ["backfill", "--start", "2026-11-01T00:00:00Z"]])
def test_a_configured_database_without_a_graph_connection_is_refused(argv, user_db, airflow_home, capsys):
    before = runs_logged(airflow_home)

    code = run_dag.main(argv)

    err = capsys.readouterr().err
    assert code == 2
    assert "AIRFLOW_CONN_KONEKTOR_DB is set but AIRFLOW_CONN_META_CAPI is not: refusing" in err
    assert "KONEKTOR_DEV_EMULATOR=1" in err  # the way to ask for it
    assert runs_logged(airflow_home) == before and untouched(user_db)


def test_the_refusal_comes_before_the_database_is_read(airflow_home, monkeypatch, capsys):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONEKTOR_DB", "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=1"
    )
    monkeypatch.delenv("AIRFLOW_CONN_META_CAPI", raising=False)
    monkeypatch.delenv("KONEKTOR_DEV_EMULATOR", raising=False)
    assert run_dag.main(["sync"]) == 2
    assert "refusing" in capsys.readouterr().err


def test_a_graph_connection_without_a_database_is_refused(airflow_home, emulator, monkeypatch, capsys):
    monkeypatch.delenv("AIRFLOW_CONN_KONEKTOR_DB", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_META_CAPI", graph_conn(emulator))
    assert run_dag.main(["sync"]) == 2
    assert "AIRFLOW_CONN_META_CAPI is set but AIRFLOW_CONN_KONEKTOR_DB is not" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--start", "2026-11-31T00:00:00Z"], "START='2026-11-31T00:00:00Z' is not an ISO-8601 date-time"),
        (["--start", "2026-11-20T00:00:00Z", "--end", "2026-11-19T00:00:00Z"], "is not before END"),
        (["--start", "2026-11-20T00:00:00Z", "--pixels", f"{PIXEL},6999999999999999"],
         "PIXELS: not in meta_pixels: 6999999999999999"),
    ],
)  # fmt: skip
def test_a_bad_backfill_is_an_error_before_anything_runs(argv, message, user_db, airflow_home, emulator, meta,
                                                          monkeypatch, capsys):  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_META_CAPI", graph_conn(emulator))
    before = runs_logged(airflow_home)

    code = run_dag.main(["backfill", *argv])

    assert code == 2
    assert message in capsys.readouterr().err
    assert runs_logged(airflow_home) == before and untouched(user_db)
    assert meta.stats()["requests"] == 0


def test_a_disabled_pixel_is_named(user_db, airflow_home, emulator, monkeypatch, capsys):
    user_db.execute("UPDATE meta_pixels SET enabled = false")
    monkeypatch.setenv("AIRFLOW_CONN_META_CAPI", graph_conn(emulator))
    assert run_dag.main(["backfill", "--start", "2026-11-20T00:00:00Z", "--pixels", PIXEL]) == 2
    assert f"disabled in every workspace: {PIXEL}" in capsys.readouterr().err


def make_backfill(*assignments: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN", "KONEKTOR_DEV"))}
    # this checkout's core, not whichever one the venv's editable install points at
    full.update({"PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]), **env})
    # -o: the venv is installed already; make must not reinstall it from a test
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "backfill", *assignments]
    return subprocess.run(command, cwd=REPO, env=full, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("template", ['" ; touch {f} ; echo "', "' ; touch {f} ; echo '", "$(touch {f})",
                                      "`touch {f}`", "$(shell touch {f})", "$$(touch {f})",
                                      "x'\ntouch {f} #\n"])  # fmt: skip
def test_make_backfill_runs_no_command_hidden_in_its_values(template, tmp_path, airflow_home):
    planted = tmp_path / "planted"
    hostile = template.format(f=planted)

    result = make_backfill(f"START={hostile}", f"PIXELS={hostile}", "DRY_RUN=1")

    assert not planted.exists()
    assert result.returncode != 0
    assert "make backfill: START=" in result.stderr and "is not an ISO-8601 date-time" in result.stderr
    assert repr(hostile) in result.stderr  # handed over as it was typed


def test_make_backfill_rejects_a_dry_run_it_does_not_understand(airflow_home):
    start = (now() - timedelta(days=1)).isoformat()
    result = make_backfill(f"START={start}", "DRY_RUN=maybe")
    assert result.returncode != 0
    assert "DRY_RUN='maybe': use 1/true/yes or 0/false/no" in result.stderr


def test_each_run_logs_to_its_own_file_and_last_run_names_the_newest(airflow_home):
    first, second = foreground_run.new_log_path(airflow_home), foreground_run.new_log_path(airflow_home)

    assert first != second and first.parent == second.parent == airflow_home / "runs"
    assert (airflow_home / "last_run.log").resolve() == second.resolve()


def test_a_database_without_konektor_tables_is_an_error_not_a_traceback(pg_server, airflow_home, emulator,
                                                                         monkeypatch, capsys):  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_KONEKTOR_DB", pg_server)
    monkeypatch.setenv("AIRFLOW_CONN_META_CAPI", graph_conn(emulator))
    code = run_dag.main(["backfill", "--start", "2026-11-20T00:00:00Z", "--pixels", PIXEL])
    err = capsys.readouterr().err
    assert code == 2
    assert 'make backfill: cannot read meta_pixels: relation "meta_pixels" does not exist' in err
