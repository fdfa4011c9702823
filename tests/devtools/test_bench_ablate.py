"""`make bench-ablate` in small: the default design and one other choice, each in a fresh process.

Nothing fails on a figure (timings vary with the machine): the test checks every variant ran to the
end with every pair recorded, and that the table compares each with the default.
"""

from __future__ import annotations

import os

import psycopg2
import pytest

from devtools import bench_ablate

pytestmark = pytest.mark.bench


@pytest.fixture
def ablate_db(pg_server):
    name = f"bench_ablate_smoke_{os.getpid()}"
    yield name
    conn = psycopg2.connect(pg_server)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def test_each_variant_runs_in_its_own_process_and_is_compared_with_the_default(pg_server, ablate_db, capsys):
    runs = bench_ablate.ablate(3_000, 1, ["child_process"], 0, server_uri=pg_server, dbname=ablate_db,
                               log=lambda _line: None)  # fmt: skip
    table = bench_ablate.format_table(runs)
    with capsys.disabled():
        print(table, flush=True)

    assert list(runs) == [bench_ablate.ALL_ON, "child_process"]
    for (run,) in runs.values():
        assert run["recorded"] == run["pairs"] > 0
        assert run["seconds"] > 0 and run["cpu_seconds"] > 0 and run["peak_rss_mib"] > 0
    # the child process is a process of its own: its memory adds to the run's
    assert runs["child_process"][0]["peak_rss_mib"] > runs[bench_ablate.ALL_ON][0]["peak_rss_mib"]
    default_row, child_row = table.splitlines()[1:3]
    assert default_row.split()[0] == "default" and "+0.0%" in default_row
    assert child_row.split()[0] == "child_process"
