"""`make demo` and `make sync`: run the meta_capi_sync DAG once through Airflow (`airflow dags test`).

demo: a fresh demo database on the embedded PostgreSQL (or the configured one), seeded, and the
      emulator (unless AIRFLOW_CONN_META_CAPI is set); then one DAG run and a readable summary.
sync: one run against the configured connections (embedded substitutes only for what is not set);
      seeds nothing; exits non-zero when the run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import psycopg2

from devtools import demo_data, stack
from devtools.graph_emulator.process import EmulatorAdmin
from konektor_capi.report import format_summary

DEMO_DB = "konektor_demo"


def latest_summary(dsn: str) -> dict | None:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT summary FROM sync_runs WHERE summary IS NOT NULL ORDER BY started_at DESC LIMIT 1"
            )
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def run_dag(db_uri: str, graph_conn: str, conf: dict | None = None, timeout: float = 3600) -> int:
    env = stack.airflow_env(
        {
            "AIRFLOW_CONN_KONEKTOR_DB": db_uri,
            "AIRFLOW_CONN_META_CAPI": graph_conn,
            "KONEKTOR_TASK_RETRIES": "0",
        }
    )
    stack.ensure_airflow_db(env)
    cmd = stack.airflow_cmd("dags", "test", "meta_capi_sync")
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    log_path = stack.AIRFLOW_HOME / "last_run.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        log.write(f"$ {shlex.join(cmd)}\n")  # the exact command (see stack.airflow_cmd)
        log.flush()
        try:
            code = subprocess.run(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            print(f"airflow dags test did not finish within {timeout}s", file=sys.stderr)
            return 124
    print(f"airflow dags test meta_capi_sync: exit {code} in {time.monotonic() - started:.1f}s "
          f"(log: {log_path})")  # fmt: skip
    if code != 0 or "state=failed" in log_path.read_text(errors="replace"):
        return code or 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["demo", "sync", "backfill"])
    parser.add_argument("--start", help="backfill: ISO-8601 start (exclusive), with a timezone")
    parser.add_argument("--end", help="backfill: ISO-8601 end (inclusive); default now")
    parser.add_argument("--pixels", default="", help="backfill: comma-separated pixel ids (default all)")
    parser.add_argument("--dry-run", action="store_true", help="backfill: send nothing, record nothing")
    parser.add_argument("--leads", type=int, default=1500, help="demo: how many leads to seed")
    parser.add_argument("--conf", default=None, help="JSON params for the run (backfill etc.)")
    args = parser.parse_args(argv)
    conf = json.loads(args.conf) if args.conf else None
    if args.mode == "backfill":
        if not args.start:
            parser.error("backfill needs --start (make backfill START=2026-11-20T00:00:00Z)")
        conf = {**(conf or {}), "start": args.start, "end": args.end or None, "dry_run": args.dry_run,
                "pixel_ids": [p.strip() for p in args.pixels.split(",") if p.strip()]}  # fmt: skip

    if args.mode == "demo":
        db_uri = stack.konektor_db_uri(DEMO_DB)
        seeded = demo_data.seed(db_uri, n_leads=args.leads, now=demo_data.now_utc())
        print(f"seeded {seeded.leads} leads and {seeded.changes} status changes into {DEMO_DB}")
    else:
        configured = os.environ.get("AIRFLOW_CONN_KONEKTOR_DB")
        db_uri = configured or stack.ensure_database(DEMO_DB)
    tokens = demo_data.pixel_tokens(db_uri)
    with stack.graph_api(tokens) as (graph_conn, emulator):
        code = run_dag(db_uri, graph_conn, conf)
        stats = EmulatorAdmin(emulator.base_url).stats() if emulator is not None else None
    summary = latest_summary(db_uri)
    if summary:
        print()
        print(format_summary(summary))
    if stats:
        print(
            f"\nemulator: {stats.get('requests')} requests, {stats.get('events_received')} events received, "
            f"{stats.get('duplicates')} duplicates"
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
