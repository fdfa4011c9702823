"""`make bench-health [HEALTH_ROWS=N]`: how fast the Meta CAPI health page's queries are on a large sync_logs.

Seeds a fresh database (`konektor_bench_health` on the embedded PostgreSQL) with N sync_logs rows
(default 10,000,000) by generate_series in SQL, spread evenly over the last `--days` (default 30) in the
order a pipeline writes them (event time rising), over 20 pixels: ~86% accepted, 2% partial_failure,
3% failed (inside Meta's 7 days only: older failures end skipped), 9% skipped for six reasons; one
pixel's token refused (190), one without permission (200), one without a token; a `match_keys` column
unless --no-match-keys; 720 hourly runs in sync_runs. Then VACUUM ANALYZE (the state autovacuum
leaves), and each query of the page is timed (--repeat times; first and median), with the index its
plan uses, followed by the whole page: konektor_capi.health.read_health and the HTML with its chart.

`--reuse` keeps an already seeded database of the same size (seeding 10M rows takes minutes).
`--write-cost N` also times what the page's indexes cost the sync's writes: N outcomes recorded into an
empty sync_logs by COPY in batches of 1000 (as the recorder writes one batch per Meta answer), with and
without them, best of three.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg2

from devtools import embedded_pg, stack
from devtools.demo_data import apply_schemas
from konektor_capi import health, sql
from konektor_capi.db import make_engine
from konektor_capi.pipeline import NO_TOKEN, NOT_NUMERIC

DB = "konektor_bench_health"
PIXELS = 20
CHUNK = 1_000_000

# One INSERT per chunk of ids: everything about a row derives from its id i, so a chunk is one statement.
SEED = """
INSERT INTO sync_logs (status_change_id, pixel_id, lead_id, workspace_id, event_name, event_id, action_source,
                       event_time, status, reason, error_code, error_subcode, attempts, run_id, created_at,
                       updated_at {match_col})
SELECT i, (7000000000000000 + px)::text, i, 1 + px / 4, 'Lead', 'ev' || i, 'system_generated', t,
       st, CASE st WHEN 'accepted' THEN NULL
                   WHEN 'failed' THEN CASE px WHEN 1 THEN 'meta error 190/463: Error validating access token'
                                              WHEN 2 THEN 'meta error 200: Permissions error'
                                              ELSE 'meta error 2: Service temporarily unavailable' END
                   WHEN 'partial_failure' THEN 'events_received 0 of 1: invalid fbc'
                   ELSE CASE WHEN px = 3 THEN %(no_token)s
                             WHEN t < %(now)s - interval '7 days' AND r < 0.93 THEN
                                 'older than Meta''s 7-day window for server events'
                             ELSE (ARRAY['no customer identifier Meta can match (email, phone, click id)',
                                         'leads.deal_value is not a usable number (a Purchase needs it)',
                                         'no WhatsApp Business Account ID',
                                         'no Click-to-WhatsApp click id (ctwa_clid)',
                                         %(not_numeric)s,
                                         'pixel was disabled or removed before its events were sent']
                                  )[1 + (i %% 6)]
                        END END,
       CASE WHEN st = 'failed' THEN CASE px WHEN 1 THEN 190 WHEN 2 THEN 200 ELSE 2 END END,
       CASE WHEN st = 'failed' AND px = 1 THEN 463 END,
       1, 'scheduled__' || to_char(date_trunc('hour', t), 'YYYY-MM-DD"T"HH24'), t + interval '50 minutes',
       t + interval '50 minutes' {match_val}
FROM (
    SELECT i, px, t, r,
           CASE WHEN px = 3 THEN 'skipped'
                WHEN px IN (1, 2) AND t > %(now)s - interval '2 days' THEN 'failed'
                WHEN r < 0.86 THEN 'accepted'
                WHEN r < 0.88 THEN 'partial_failure'
                WHEN r < 0.91 THEN CASE WHEN t > %(now)s - interval '7 days' THEN 'failed' ELSE 'skipped' END
                ELSE 'skipped' END AS st
    FROM (
        SELECT i, (i * 7919) %% %(pixels)s AS px,
               %(start)s + (%(span)s * i / %(rows)s) AS t, ((i * 2654435761) %% 1000) / 1000.0 AS r
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
    ) raw
) rows
"""
MATCH_KEYS = """, (ARRAY['em,ph,fbc', 'em,ph', 'ph', 'em,ph,fbp,client_ip_address,client_user_agent',
                          'ctwa_clid', 'em'])[1 + (i %% 6)]"""

RUNS = """
INSERT INTO sync_runs (run_id, mode, window_start, window_end, started_at, finished_at, summary)
SELECT 'scheduled__' || to_char(h, 'YYYY-MM-DD"T"HH24:MI:SS+00:00'), 'hourly', h - interval '2 hours', h,
       h + interval '1 minute', h + interval '2 minutes',
       jsonb_build_object('outcomes', jsonb_build_array(
           jsonb_build_object('pixel_id', '7000000000000000', 'event_name', 'Lead', 'status', 'accepted',
                              'n', 1200),
           jsonb_build_object('pixel_id', '7000000000000001', 'event_name', 'Lead', 'status', 'failed',
                              'n', 40)),
           'pairs', 1240, 'recorded', 1240, 'requests', 22, 'duration_s', 31.5)
FROM generate_series(date_trunc('hour', %(now)s) - interval '719 hours', date_trunc('hour', %(now)s),
                     interval '1 hour') AS h
"""


def seed(uri: str, rows: int, days: int, now: datetime, match_keys: bool) -> float:
    started = time.perf_counter()
    conn = psycopg2.connect(uri)
    apply_schemas(conn)
    start = now - timedelta(days=days)
    statement = SEED.format(match_col=", match_keys" if match_keys else "",
                            match_val=MATCH_KEYS if match_keys else "")  # fmt: skip
    with conn.cursor() as cur:
        if match_keys:
            cur.execute("ALTER TABLE sync_logs ADD COLUMN IF NOT EXISTS match_keys text")
        for lo in range(1, rows + 1, CHUNK):
            hi = min(rows, lo + CHUNK - 1)
            cur.execute(statement, {"lo": lo, "hi": hi, "rows": rows, "start": start, "span": now - start,
                                    "now": now, "pixels": PIXELS, "no_token": NO_TOKEN,
                                    "not_numeric": NOT_NUMERIC})  # fmt: skip
            conn.commit()
            print(f"  seeded {hi:,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
        cur.execute(RUNS, {"now": now})
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE sync_logs")
        cur.execute("VACUUM ANALYZE sync_runs")
    conn.close()
    return time.perf_counter() - started


def _count(uri: str) -> int:
    conn = psycopg2.connect(uri)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM sync_logs")
            return cur.fetchone()[0]
    finally:
        conn.close()


def _queries(now: datetime) -> dict[str, dict]:
    until = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    window = {"since": until - timedelta(days=health.DAYS), "until": until}
    return {
        "health_hourly": window,
        "health_needs_action": {
            **window,
            "recent": now - health.RECENT,
            "no_token": NO_TOKEN,
            "not_numeric": NOT_NUMERIC,
        },  # fmt: skip
        "health_reasons": {**window, "limit": 15},
        "health_match_keys": {"since": until - health.RECENT, "until": until},
        "health_runs": {"limit": 20},
    }


def _plan_summary(cur, name: str, params: dict) -> tuple[str, int]:
    """The scans of the plan (which index, index-only or not) and the buffers it touched."""
    cur.execute(b"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + cur.mogrify(sql.load(name), params))
    plan = cur.fetchone()[0][0]["Plan"]
    scans, stack_ = [], [plan]
    while stack_:
        node = stack_.pop()
        if "Scan" in node["Node Type"] and node.get("Relation Name"):
            scans.append(f"{node['Node Type']}" + (f" {node['Index Name']}" if node.get("Index Name") else "")
                         + f" on {node['Relation Name']}")  # fmt: skip
        stack_.extend(node.get("Plans", []))
    buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
    return "; ".join(dict.fromkeys(scans)), buffers


def measure(uri: str, now: datetime, repeat: int) -> None:
    conn = psycopg2.connect(uri)
    conn.autocommit = True
    has_keys = _has_match_keys(conn)
    print(f"\n{'query':<22} {'first ms':>9} {'median ms':>10} {'rows':>6} {'buffers':>9}  plan")
    for name, params in _queries(now).items():
        if name == "health_match_keys" and not has_keys:
            continue
        times, n = [], 0
        with conn.cursor() as cur:
            for _ in range(repeat):
                t0 = time.perf_counter()
                cur.execute(sql.load(name), params)
                n = len(cur.fetchall())
                times.append((time.perf_counter() - t0) * 1000)
            scans, buffers = _plan_summary(cur, name, params)
        print(f"{name:<22} {times[0]:>9.1f} {statistics.median(times):>10.1f} {n:>6} {buffers:>9,}  {scans}")
    conn.close()
    engine = make_engine(embedded_pg.sqlalchemy_url(uri))
    try:
        from konektor_capi_health.page import render

        totals, renders = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = health.read_health(engine, now)
            t1 = time.perf_counter()
            html = render(result, airflow_base="", json_url="/konektor-capi/health.json")
            totals.append((t1 - t0) * 1000)
            renders.append((time.perf_counter() - t1) * 1000)
        print(f"\nread_health (all queries, one transaction): first {totals[0]:.0f} ms, "
              f"median {statistics.median(totals):.0f} ms")  # fmt: skip
        print(f"HTML with the chart (matplotlib SVG, {len(result.pixels)} pixels): first {renders[0]:.0f} "
              f"ms, median {statistics.median(renders):.0f} ms, {len(html) / 1024:.0f} KiB")  # fmt: skip
    finally:
        engine.dispose()


HEALTH_INDEXES = ("sync_logs_time_status", "sync_logs_not_accepted_time")
WRITE_ROWS = """
COPY (SELECT i, (7000000000000000 + i %% 20)::text, i, 1, 'Lead', 'ev' || i, 'system_generated',
             now() - interval '1 day' + i * interval '50 ms',
             CASE WHEN i %% 7 = 0 THEN 'skipped' ELSE 'accepted' END,
             CASE WHEN i %% 7 = 0 THEN 'no customer identifier Meta can match' END, 1, 'run'
      FROM generate_series(1, %(rows)s) i) TO STDOUT
"""
WRITE_COLUMNS = ("status_change_id, pixel_id, lead_id, workspace_id, event_name, event_id, action_source, "
                 "event_time, status, reason, attempts, run_id")  # fmt: skip


def write_cost(rows: int, dbname: str) -> dict[str, float]:
    """Seconds to record `rows` outcomes (COPY batches of 1000), with the health indexes and without."""
    uri = stack.recreate_demo_database(dbname)
    conn = psycopg2.connect(uri)
    apply_schemas(conn)
    with conn.cursor() as cur:
        data = io.StringIO()
        cur.copy_expert(cur.mogrify(WRITE_ROWS, {"rows": rows}).decode(), data)
        lines = data.getvalue().splitlines(keepends=True)
        batches = ["".join(lines[k : k + 1000]) for k in range(0, len(lines), 1000)]
        index_defs = {}
        for name in HEALTH_INDEXES:
            cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,))
            index_defs[name] = cur.fetchone()[0]
        conn.commit()

        def best_of_three() -> float:
            times = []
            for _ in range(3):
                cur.execute("TRUNCATE sync_logs")
                conn.commit()
                started = time.perf_counter()
                for batch in batches:
                    cur.copy_expert(f"COPY sync_logs ({WRITE_COLUMNS}) FROM STDIN", io.StringIO(batch))
                    conn.commit()
                times.append(time.perf_counter() - started)
            return min(times)

        result = {"with": best_of_three()}
        cur.execute("DROP INDEX " + ", ".join(HEALTH_INDEXES))
        conn.commit()
        result["without"] = best_of_three()
    conn.close()
    return result


def _drop(dbname: str) -> None:
    conn = psycopg2.connect(embedded_pg.start())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    conn.close()


def _has_match_keys(conn) -> bool:
    with conn.cursor() as cur:
        cur.execute(sql.load("health_has_column"), {"column": health.MATCH_KEYS_COLUMN})
        return cur.fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep a seeded database of the same size")
    parser.add_argument("--no-match-keys", action="store_true")
    parser.add_argument("--db", default=DB, help=f"database on the embedded PostgreSQL (default {DB})")
    parser.add_argument("--write-cost", type=int, default=0, metavar="N",
                        help="also time recording N outcomes with and without the indexes")  # fmt: skip
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    uri = stack.ensure_database(args.db)
    if args.reuse and _count(uri) == args.rows:
        print(f"reusing {args.db}: {args.rows:,} sync_logs rows (seeded earlier: the window is that seed's)")
    else:
        uri = stack.recreate_demo_database(args.db)
        print(f"seeding {args.rows:,} sync_logs rows over {args.days} days into {args.db} ...", flush=True)
        took = seed(uri, args.rows, args.days, now, match_keys=not args.no_match_keys)
        print(f"seeded and vacuumed in {took:.0f} s")
    conn = psycopg2.connect(uri)
    with conn.cursor() as cur:
        cur.execute("SELECT max(event_time) FROM sync_logs")
        now = cur.fetchone()[0] or now  # a reused seed is measured at its own "now"
        cur.execute("SELECT count(*) FILTER (WHERE event_time >= %s) FROM sync_logs",
                    (now - timedelta(days=7),))  # fmt: skip
        recent = cur.fetchone()[0]
        cur.execute("SELECT pg_size_pretty(pg_relation_size('sync_logs')), "
                    "pg_size_pretty(pg_relation_size('sync_logs_time_status')), "
                    "pg_size_pretty(pg_relation_size('sync_logs_not_accepted_time'))")  # fmt: skip
        table, counts, not_accepted = cur.fetchone()
    conn.close()
    print(
        f"sync_logs: {table}; indexes sync_logs_time_status {counts}, sync_logs_not_accepted_time "
        f"{not_accepted}; {recent:,} rows in the last 7 days"
    )
    measure(uri, now, args.repeat)
    if args.write_cost:
        cost = write_cost(args.write_cost, f"{args.db}_writes")
        print(f"\nrecording {args.write_cost:,} outcomes (COPY batches of 1000, best of 3): "
              f"{cost['without']:.2f} s without the page's indexes, {cost['with']:.2f} s with them "
              f"(+{cost['with'] / cost['without'] - 1:.0%})")  # fmt: skip
        _drop(f"{args.db}_writes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
