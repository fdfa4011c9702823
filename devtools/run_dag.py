"""`make demo`, `make sync`, `make backfill`: one meta_capi_sync run through Airflow (`airflow dags test`).

demo:     seeds a fresh `konektor_demo` database on the embedded PostgreSQL and syncs it to the emulator;
          AIRFLOW_CONN_KONEKTOR_DB and AIRFLOW_CONN_META_CAPI are ignored (a demo never touches yours).
sync:     one run with AIRFLOW_CONN_KONEKTOR_DB and AIRFLOW_CONN_META_CAPI; with neither set, the embedded
          demo database and the emulator; with only one set, refused (KONEKTOR_DEV_EMULATOR=1 pairs a
          configured database with the emulator on purpose). Seeds nothing; non-zero exit when the run fails.
backfill: like sync, for a date range: --start/--end/--pixels/--dry-run, or BACKFILL_START, BACKFILL_END,
          BACKFILL_PIXELS, BACKFILL_DRY_RUN in the environment (what `make backfill` sets).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import psycopg2

from devtools import backfill_request, dag_test, demo_data, stack, targets
from devtools.graph_emulator.process import EmulatorAdmin
from devtools.targets import DEMO_DB
from konektor_capi.report import format_summary


def run_summary(dsn: str, run_id: str) -> dict | None:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT summary FROM sync_runs WHERE run_id = %s", (run_id,))
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def run_dag(db_uri: str, graph_conn: str, conf: dict | None = None, timeout: float = 3600) -> int:
    """The exit code of one foreground run (kept for the benchmark and the end-to-end tests)."""
    return dag_test.run(db_uri, graph_conn, conf, timeout).code


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def _note(targets_: targets.Targets) -> None:
    for note in targets_.notes:
        print(note, file=sys.stderr)


def _demo_database(leads: int) -> str:
    db_uri = stack.recreate_demo_database(DEMO_DB)
    seeded = demo_data.seed(db_uri, n_leads=leads, now=demo_data.now_utc())
    print(f"seeded {seeded.leads} leads and {seeded.changes} status changes into database {DEMO_DB} "
          f"on {stack.embedded_location()}")  # fmt: skip
    return db_uri


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["demo", "sync", "backfill"])
    parser.add_argument("--start", help="backfill: ISO-8601 start (exclusive), with a timezone")
    parser.add_argument("--end", help="backfill: ISO-8601 end (inclusive); default now")
    parser.add_argument("--pixels", help="backfill: comma-separated pixel ids (default all)")
    parser.add_argument("--dry-run", action="store_true", help="backfill: send nothing, record nothing")
    parser.add_argument("--leads", type=int, default=1500, help="demo: how many leads to seed")
    parser.add_argument("--conf", default=None, help="JSON params for the run (test_event_code etc.)")
    args = parser.parse_args(argv)
    conf = json.loads(args.conf) if args.conf else {}
    backfill = None
    if args.mode == "backfill":
        env = backfill_request.ENV
        try:
            backfill = backfill_request.from_values(
                args.start or os.environ.get(env["start"]), args.end or os.environ.get(env["end"]),
                args.pixels if args.pixels is not None else os.environ.get(env["pixels"]),
                True if args.dry_run else os.environ.get(env["dry_run"]),
            )  # fmt: skip
        except backfill_request.InvalidRequest as exc:
            return _fail(f"make backfill: {exc}")
        conf = {**conf, **backfill.conf()}

    if args.mode == "demo":
        where = targets.for_demo(os.environ)
        _note(where)
        db_uri = _demo_database(args.leads)
    else:
        try:
            where = targets.for_run(os.environ, f"run `make {args.mode}`")
        except targets.Refused as exc:
            return _fail(f"make {args.mode}: {exc}")
        _note(where)
        db_uri = where.db_uri or stack.ensure_database(DEMO_DB)
    try:
        if backfill is not None:
            backfill_request.check_pixels(db_uri, backfill.pixel_ids)
        # Only the emulator needs the tokens; a configured Graph API gets them from the task that sends.
        tokens = demo_data.pixel_tokens(db_uri) if where.meta_conn is None else None
    except backfill_request.InvalidRequest as exc:
        return _fail(f"make backfill: {exc}")
    except psycopg2.Error as exc:  # the first line names the database, never the URI's password
        hint = " (`make demo` seeds the demo database)" if where.db_uri is None else ""
        return _fail(f"make {args.mode}: cannot read meta_pixels: {str(exc).strip().splitlines()[0]}{hint}")
    with stack.graph_api(where.meta_conn, tokens) as (graph_conn, emulator):
        result = dag_test.run(db_uri, graph_conn, conf)
        stats = EmulatorAdmin(emulator.base_url).stats() if emulator is not None else None
    summary = run_summary(db_uri, result.run_id) if result.run_id else None
    print()
    if summary:
        print(f"run {result.run_id}")
        print(format_summary(summary))
    else:
        print(f"no summary recorded for this run ({result.run_id or 'not created'}); see {result.log_path}")
    if stats:
        print(
            f"\nemulator: {stats.get('requests')} requests, {stats.get('events_received')} events received, "
            f"{stats.get('duplicates')} duplicates"
        )
    return result.code


if __name__ == "__main__":
    sys.exit(main())
