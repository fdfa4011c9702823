"""One `airflow dags test meta_capi_sync` in the foreground, with its own log file and its own run id.

Foreground runs may overlap (two operators, a sync and a backfill): each writes `runs/<time>-<pid>.log`
under AIRFLOW_HOME, and `last_run.log` points at the latest one started. `dags test` names its run after
the moment it creates it, so the run is found afterwards by a marker this command puts in its conf.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from devtools import stack

DAG_ID = "meta_capi_sync"
MARKER = "konektor_invocation"  # a conf key no param declares: the DAG ignores it
KEEP_LOGS = 50


@dataclass(frozen=True)
class DagTest:
    code: int
    run_id: str | None  # None when Airflow never created the run
    log_path: Path


def run(db_uri: str, graph_conn: str, conf: dict | None = None, timeout: float = 3600) -> DagTest:
    env = stack.airflow_env({"AIRFLOW_CONN_KONEKTOR_DB": db_uri, "AIRFLOW_CONN_META_CAPI": graph_conn,
                             "KONEKTOR_TASK_RETRIES": "0"})  # fmt: skip
    stack.ensure_airflow_db(env)
    marker = uuid.uuid4().hex
    cmd = stack.airflow_cmd("dags", "test", DAG_ID, "--conf", json.dumps({**(conf or {}), MARKER: marker}))
    log_path = new_log_path()
    started = time.monotonic()
    with open(log_path, "w") as log:
        log.write(f"$ {shlex.join(cmd)}\n")  # the exact command (see stack.airflow_cmd)
        log.flush()
        try:
            code = subprocess.run(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            print(f"airflow dags test did not finish within {timeout}s (log: {log_path})", file=sys.stderr)
            code = 124
    print(f"airflow dags test {DAG_ID}: exit {code} in {time.monotonic() - started:.1f}s (log: {log_path})")
    if code == 0 and "state=failed" in log_path.read_text(errors="replace"):
        code = 1
    return DagTest(code, find_run_id(marker), log_path)


def new_log_path() -> Path:
    runs = stack.AIRFLOW_HOME / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = runs / f"{stamp}-{os.getpid()}.log"
    path.touch()
    _point_last_run_at(path)
    _prune(runs)
    return path


def _point_last_run_at(path: Path) -> None:
    # A symlink swapped in with rename: a reader never sees it missing, and a run that started later
    # wins even when an earlier one finishes last.
    link = stack.AIRFLOW_HOME / "last_run.log"
    tmp = link.with_name(f".last_run.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    tmp.symlink_to(path.relative_to(stack.AIRFLOW_HOME))
    os.replace(tmp, link)


def _prune(runs: Path) -> None:
    for old in sorted(runs.glob("*.log"))[:-KEEP_LOGS]:  # names start with the time: oldest first
        old.unlink(missing_ok=True)


def find_run_id(marker: str) -> str | None:
    """The run whose conf holds `marker`, from the SQLite metadata database airflow_env() points at."""
    db = stack.AIRFLOW_HOME / "airflow.db"
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? AND json_extract(conf, '$.' || ?) = ? "
            "ORDER BY id DESC LIMIT 1",
            (DAG_ID, MARKER, marker),
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return row[0] if row else None
