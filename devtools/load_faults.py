"""Load under faults (`make load-faults`): a large run with a share of requests throttled or failing
transiently must still end with every change accepted, in a bounded number of attempts.

Seeds `--changes` status changes (default 200,000) in a fresh database, starts the emulator with
rules that throttle every 10th request and fail every 20th with a transient error, runs the DAG once
through Airflow and prints requests, retries, attempts per event and duration.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import psycopg2

from devtools import demo_data, embedded_pg, run_dag
from devtools.graph_emulator.process import EmulatorAdmin, start_emulator

CHANGES_PER_LEAD = 1.85  # what demo_data.generate_changes makes on average


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=200_000)
    parser.add_argument("--throttle-every", type=int, default=10)
    parser.add_argument("--transient-every", type=int, default=20)
    args = parser.parse_args(argv)

    db_uri = embedded_pg.recreate_database(embedded_pg.start(), "konektor_load")
    seeded = demo_data.seed(db_uri, n_leads=int(args.changes / CHANGES_PER_LEAD), now=demo_data.now_utc(),
                            with_won_without_value=False)  # fmt: skip
    print(f"seeded {seeded.changes} status changes")
    faults = [
        {"kind": "throttle", "code": 17, "subcode": 2446079, "every": args.throttle_every},
        # skip=5 keeps its requests off the throttled ones (every 10th), which would answer first
        {"kind": "transient", "code": 2, "every": args.transient_every, "skip": 5},
    ]
    with start_emulator(extra_args=("--no-store-events", "--quiet")) as emulator:
        admin = EmulatorAdmin(emulator.base_url)
        admin.register_pixels(demo_data.pixel_tokens(db_uri))
        admin.add_faults(faults)
        conn = json.dumps({"conn_type": "http", "host": emulator.base_url, "extra": {"api_version": "v25.0"}})
        started = time.monotonic()
        code = run_dag.run_dag(db_uri, conn)
        elapsed = time.monotonic() - started
        stats = admin.stats()
    with psycopg2.connect(db_uri) as pg, pg.cursor() as cur:
        cur.execute(
            "SELECT status, count(*), max(attempts), avg(attempts) FROM sync_logs GROUP BY 1 ORDER BY 1"
        )
        outcomes = cur.fetchall()
        cur.execute("SELECT count(*) FROM sync_logs WHERE status = 'failed'")
        failed = cur.fetchone()[0]
    ok_requests = stats["requests_by_status"].get("200", 0)
    print(f"\nrun exit {code} in {elapsed:.1f}s (Airflow start-up included)")
    retried = stats["requests"] - ok_requests
    print(f"requests {stats['requests']}  answered 200: {ok_requests}  refused and retried: {retried}")
    print(f"  by status {stats['requests_by_status']}  errors {stats['errors_by_code']}")
    print(f"events received {stats['events_received']}  distinct {stats['accepted_distinct']}"
          f"  duplicates {stats['duplicates']}")  # fmt: skip
    for status, n, max_attempts, avg_attempts in outcomes:
        print(f"  {status:<16} {n:>8}  attempts max {max_attempts}  avg {float(avg_attempts):.3f}")
    return 0 if code == 0 and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
