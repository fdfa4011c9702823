"""konektor-capi: the operator's commands.

sync          one meta_capi_sync run now, through Airflow (`airflow dags test`), the same code path as
              the hourly schedule
backfill      one run over a date range: --start/--end/--pixels/--dry-run (or BACKFILL_START, BACKFILL_END,
              BACKFILL_PIXELS, BACKFILL_DRY_RUN in the environment, which `make backfill` sets)
check-pixels  whether each enabled pixel's token can read its pixel; never prints a token

They use AIRFLOW_CONN_KONEKTOR_DB and AIRFLOW_CONN_META_CAPI, both of them: without both they refuse
before reading or sending anything (in a development checkout, `make sync` etc. put the embedded demo
database and the emulator in place of both). Exit 0 done, 1 the run or a check failed, 2 refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import nullcontext

import psycopg2

from konektor_capi.report import format_summary
from konektor_capi_cli import backfill_request, check_pixels, foreground_run, targets
from konektor_capi_cli.stand_ins import Session, installed


def run_summary(dsn: str, run_id: str) -> dict | None:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT summary FROM sync_runs WHERE run_id = %s", (run_id,))
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def parser(prog: str = "konektor-capi") -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=prog, description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = top.add_subparsers(dest="command", required=True)
    for name in ("sync", "backfill"):
        run = commands.add_parser(name, help=f"one {name} run through Airflow")
        run.add_argument("--conf", default=None, help="JSON params for the run (test_event_code etc.)")
    backfill = commands.choices["backfill"]
    backfill.add_argument("--start", help="ISO-8601 start (exclusive), with a timezone")
    backfill.add_argument("--end", help="ISO-8601 end (inclusive); default now")
    backfill.add_argument("--pixels", help="comma-separated pixel ids (default all)")
    backfill.add_argument("--dry-run", action="store_true", help="send nothing, record nothing")
    commands.add_parser("check-pixels", help="check each enabled pixel's token against the Graph API")
    return top


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def main(argv: list[str] | None = None, session: Session | None = None) -> int:
    session = session or installed()
    args = parser().parse_args(argv)
    command = f"{session.prog} {args.command}"
    try:
        request = _backfill(args) if args.command == "backfill" else None
    except backfill_request.InvalidRequest as exc:
        return fail(f"{command}: {exc}")
    doing = "check pixels" if args.command == "check-pixels" else f"run `{command}`"
    try:
        where = targets.for_run(os.environ, doing)
    except targets.Refused as exc:
        return fail(f"{command}: {exc}")
    if where.needs_stand_ins and session.stand_ins is None:
        return fail(f"{command}: {_no_stand_ins(where, args.command)}")
    for note in where.notes:
        print(note, file=sys.stderr)
    if args.command == "check-pixels":
        return check_pixels.check_pixels(session, where)
    conf = {**(json.loads(args.conf) if args.conf else {}), **(request.conf() if request else {})}
    return run_once(session, where, conf, command, pixel_ids=request.pixel_ids if request else ())


def _backfill(args: argparse.Namespace) -> backfill_request.Backfill:
    env = backfill_request.ENV
    return backfill_request.from_values(
        args.start or os.environ.get(env["start"]), args.end or os.environ.get(env["end"]),
        args.pixels if args.pixels is not None else os.environ.get(env["pixels"]),
        True if args.dry_run else os.environ.get(env["dry_run"]),
    )  # fmt: skip


def _no_stand_ins(where: targets.Targets, command: str) -> str:
    if where.db_uri is None:
        return (f"{targets.DB_VAR} and {targets.META_VAR} are not set: set both, to Konektor's database "
                "and the Graph API. (The embedded demo database and the emulator exist only in a "
                f"development checkout: `make {command}`.)")  # fmt: skip
    return (f"{targets.OPT_IN_VAR}=1 asks for the emulator, which exists only in a development checkout: "
            f"set {targets.META_VAR} to the Graph API.")  # fmt: skip


def run_once(session: Session, where: targets.Targets, conf: dict, command: str,
             pixel_ids: tuple[str, ...] = ()) -> int:  # fmt: skip
    """One DAG run in the foreground against `where` (a stand-in where it says None); prints its summary."""
    stand_ins = session.stand_ins
    db_uri = where.db_uri or stand_ins.database()
    try:
        backfill_request.check_pixels(db_uri, pixel_ids)
        # Only the emulator needs the tokens; a configured Graph API gets them from the task that sends.
        tokens = stand_ins.pixel_tokens(db_uri) if where.meta_conn is None else None
    except backfill_request.InvalidRequest as exc:
        return fail(f"{command}: {exc}")
    except psycopg2.Error as exc:  # the first line names the database, never the URI's password
        hint = " (`make demo` seeds the demo database)" if where.db_uri is None else ""
        return fail(f"{command}: cannot read meta_pixels: {str(exc).strip().splitlines()[0]}{hint}")
    graph = nullcontext((where.meta_conn, None)) if where.meta_conn else stand_ins.graph_api(tokens)
    with graph as (graph_conn, emulator_stats):
        airflow = session.airflow()
        session.prepare(airflow)
        result = foreground_run.run(airflow, db_uri, graph_conn, conf)
        stats = emulator_stats() if emulator_stats is not None else None
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
