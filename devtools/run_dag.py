"""`make demo`, `make sync`, `make backfill`, `make check-pixels`: the operator commands in a checkout.

demo:         seeds a fresh `konektor_demo` database on the embedded PostgreSQL and syncs it to the
              emulator; AIRFLOW_CONN_KONEKTOR_DB and AIRFLOW_CONN_META_CAPI are ignored (a demo never
              touches yours).
sync, backfill, check-pixels:
              the package's `konektor-capi` commands (konektor_capi_cli) with this checkout's Airflow and,
              when neither connection is set, the dev stand-ins: the embedded demo database and the
              emulator (KONEKTOR_DEV_EMULATOR=1 pairs a configured database with the emulator on purpose).
"""

from __future__ import annotations

import argparse
import os
import sys

from devtools import demo_data, stack
from devtools.demo_targets import for_demo
from konektor_capi_cli import foreground_run
from konektor_capi_cli import main as cli
from konektor_capi_cli.targets import DEMO_DB, Targets


def run_dag(db_uri: str, graph_conn: str, conf: dict | None = None, timeout: float = 3600) -> int:
    """The exit code of one foreground run (for the benchmark and the end-to-end tests)."""
    return dag_test(db_uri, graph_conn, conf, timeout).code


def dag_test(db_uri: str, graph_conn: str, conf: dict | None = None, timeout: float = 3600):
    """One foreground run of this checkout's Airflow: its exit code, run id and log file."""
    airflow = stack.checkout_airflow()
    stack.ensure_airflow_db(dict(airflow.env))
    return foreground_run.run(airflow, db_uri, graph_conn, conf, timeout)


def _demo_database(leads: int) -> str:
    db_uri = stack.recreate_demo_database(DEMO_DB)
    seeded = demo_data.seed(db_uri, n_leads=leads, now=demo_data.now_utc())
    print(f"seeded {seeded.leads} leads and {seeded.changes} status changes into database {DEMO_DB} "
          f"on {stack.embedded_location()}")  # fmt: skip
    return db_uri


def demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make demo")
    parser.add_argument("--leads", type=int, default=1500, help="how many leads to seed")
    args = parser.parse_args(argv)
    where = for_demo(os.environ)
    for note in where.notes:
        print(note, file=sys.stderr)
    db_uri = _demo_database(args.leads)
    return cli.run_once(stack.session(), Targets(db_uri, None), {}, "make demo")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        return demo(argv[1:])
    return cli.main(argv, stack.session())


if __name__ == "__main__":
    sys.exit(main())
