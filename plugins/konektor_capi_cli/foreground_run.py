"""One `airflow dags test meta_capi_sync` in the foreground, with its own log file and its own run id.

Foreground runs may overlap (two operators, a sync and a backfill): each writes `runs/<time>-<pid>.log`
under AIRFLOW_HOME, and `last_run.log` points at the latest one started. `dags test` names its run after
the moment it creates it, so the run is found afterwards: by a marker this command puts in its conf when
Airflow's metadata is a SQLite file (a checkout), else in the run's own log.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from konektor_capi_cli.airflow_process import airflow_cmd

DAG_ID = "meta_capi_sync"
MARKER = "konektor_invocation"  # a conf key no param declares: the DAG ignores it
KEEP_LOGS = 50
SQLITE_URL = "sqlite:///"
_CREATED = re.compile(r"\bcreating dag run\b.*?\brun_id=([^\s,]+)")


@dataclass(frozen=True)
class Airflow:
    """Where `airflow dags test` runs: its environment and its AIRFLOW_HOME (run logs go under it)."""

    env: Mapping[str, str]
    home: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Airflow:
        """The installation this process is configured for (an image's, or the user's ~/airflow)."""
        return cls(dict(environ), Path(environ.get("AIRFLOW_HOME") or Path.home() / "airflow"))


@dataclass(frozen=True)
class DagTest:
    code: int
    run_id: str | None  # None when Airflow never created the run
    log_path: Path


def run(airflow: Airflow, db_uri: str, graph_conn: str, conf: dict | None = None,
        timeout: float = 3600) -> DagTest:  # fmt: skip
    env = {**airflow.env, "AIRFLOW_CONN_KONEKTOR_DB": db_uri, "AIRFLOW_CONN_META_CAPI": graph_conn,
           "KONEKTOR_TASK_RETRIES": "0"}  # fmt: skip
    marker = uuid.uuid4().hex
    cmd = airflow_cmd("dags", "test", DAG_ID, "--conf", json.dumps({**(conf or {}), MARKER: marker}))
    log_path = new_log_path(airflow.home)
    started = time.monotonic()
    with open(log_path, "w") as log:
        log.write(f"$ {shlex.join(cmd)}\n")  # the exact command (see airflow_process.airflow_cmd)
        log.flush()
        try:
            code = subprocess.run(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            print(f"airflow dags test did not finish within {timeout}s (log: {log_path})", file=sys.stderr)
            code = 124
    print(f"airflow dags test {DAG_ID}: exit {code} in {time.monotonic() - started:.1f}s (log: {log_path})")
    text = log_path.read_text(errors="replace")
    if code == 0 and "state=failed" in text:
        code = 1
    return DagTest(code, find_run_id(env, marker) or run_id_in_log(text), log_path)


def new_log_path(airflow_home: Path) -> Path:
    runs = airflow_home / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = runs / f"{stamp}-{os.getpid()}.log"
    path.touch()
    _point_last_run_at(airflow_home, path)
    _prune(runs)
    return path


def _point_last_run_at(airflow_home: Path, path: Path) -> None:
    # A symlink swapped in with rename: a reader never sees it missing, and a run that started later
    # wins even when an earlier one finishes last.
    link = airflow_home / "last_run.log"
    tmp = link.with_name(f".last_run.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    tmp.symlink_to(path.relative_to(airflow_home))
    os.replace(tmp, link)


def _prune(runs: Path) -> None:
    for old in sorted(runs.glob("*.log"))[:-KEEP_LOGS]:  # names start with the time: oldest first
        old.unlink(missing_ok=True)


def find_run_id(env: Mapping[str, str], marker: str) -> str | None:
    """The run whose conf holds `marker`, when Airflow's metadata is the SQLite file `env` names."""
    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    db = Path(url.removeprefix(SQLITE_URL)) if url.startswith(SQLITE_URL) else None
    if db is None or not db.exists():
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


def run_id_in_log(text: str) -> str | None:
    """The run `airflow dags test` says it created; the log is this invocation's alone."""
    found = _CREATED.search(text)
    return found.group(1) if found else None
