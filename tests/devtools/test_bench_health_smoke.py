"""`make bench-health` in small: 30,000 seeded sync_logs rows, every query of the page timed with its plan.

Timings vary with the machine: the test checks that the seed is what the benchmark says, that every query
ran and read an index (never the whole table), and that the page was drawn.
"""

from __future__ import annotations

import os
import re

import psycopg2
import pytest

from devtools import bench_health, embedded_pg

pytestmark = pytest.mark.bench


@pytest.fixture
def db_name():
    # the benchmark's server: the embedded one, whatever KONEKTOR_TEST_PG_URI says
    name = f"bench_health_smoke_{os.getpid()}"
    yield name
    conn = psycopg2.connect(embedded_pg.start())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def test_small_health_benchmark_times_every_query_on_an_index(db_name, capsys):
    args = ["--rows", "30000", "--repeat", "2", "--db", db_name, "--write-cost", "3000"]
    assert bench_health.main(args) == 0
    out = capsys.readouterr().out

    uri = embedded_pg.database_uri(embedded_pg.start(), db_name)
    conn = psycopg2.connect(uri)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT pixel_id), count(*) FILTER (WHERE status = 'failed' AND "
            "error_code = 190), count(*) FILTER (WHERE match_keys IS NULL) FROM sync_logs"
        )
        rows, pixels, refused, without_keys = cur.fetchone()
    conn.close()
    assert (rows, pixels, without_keys) == (30_000, bench_health.PIXELS, 0) and refused > 0
    timed = dict(re.findall(r"^(health_\w+) .*?  (\S.*)$", out, re.M))
    assert set(timed) == {"health_hourly", "health_needs_action", "health_reasons", "health_match_keys",
                          "health_runs"}  # fmt: skip
    assert all("Seq Scan on sync_logs" not in plan for plan in timed.values()), timed
    assert re.search(r"read_health .* median \d+ ms", out) and "HTML with the chart" in out
    assert re.search(r"recording 3,000 outcomes .*: [\d.]+ s without the page's indexes, [\d.]+ s with", out)
