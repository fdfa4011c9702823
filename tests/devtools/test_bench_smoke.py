"""`make bench` in small: ~20k status changes through every phase of the benchmark, figures printed.

Timings vary with the machine, so nothing here fails on a figure: the test checks that the benchmark
ran every phase, that every change got an outcome, and that the figures are sane numbers.
"""

from __future__ import annotations

import math
import os

import psycopg2
import pytest

from devtools import bench
from devtools.bench_stages import STAGES

pytestmark = pytest.mark.bench

SMOKE_EVENTS = 20_000


@pytest.fixture
def bench_db(pg_server):
    name = f"bench_smoke_{os.getpid()}"
    yield name
    conn = psycopg2.connect(pg_server)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def test_small_benchmark_runs_every_phase_and_reports_figures(pg_server, bench_db, airflow_home, capsys):
    result = bench.run_bench(SMOKE_EVENTS, server_uri=pg_server, dbname=bench_db, log=lambda _line: None)
    with capsys.disabled():
        print(bench.format_report(result), flush=True)

    data = result.data
    assert abs(data.mapped - SMOKE_EVENTS) < 0.05 * SMOKE_EVENTS  # "about N" mapped status changes
    assert data.pairs >= data.mapped

    # Airflow, end to end: the run succeeded and every (change, pixel) pair has exactly one outcome.
    airflow = result.airflow
    assert airflow["exit_code"] == 0
    assert airflow["outcomes"]["recorded"] == data.pairs
    assert airflow["outcomes"]["changes_with_outcome"] == data.mapped
    assert airflow["outcomes"]["by_status"].get("failed", 0) == 0
    assert airflow["seconds"] > 0 and airflow["peak_rss_tree"] > 0
    assert airflow["emulator"]["events_received"] == airflow["outcomes"]["by_status"]["accepted"]

    # In process: every stage reported, with rows through it and a positive time.
    inprocess = result.inprocess
    for stage in STAGES:
        figures = inprocess["stages"][stage]
        assert figures["rows"] > 0, stage
        assert figures["seconds"] > 0, stage
    assert inprocess["recorded"] == inprocess["pairs"] == data.pairs
    assert inprocess["changes_with_outcome"] == data.mapped
    assert inprocess["failed"] == 0
    assert inprocess["outcomes"] == airflow["outcomes"]["by_status"]

    # The SDK baseline sent the same events our run sent, and the emulator took all of them.
    sdk = result.sdk
    assert sdk["events"] == sdk["expected_events"] == inprocess["outcomes"]["accepted"]
    assert sdk["events_received"] == sdk["events"]
    assert not sdk["errors"]
    for ratio in (result.sdk_ratio, result.ours_seconds, sdk["seconds"]):
        assert ratio is not None and math.isfinite(ratio) and ratio > 0

    # The SDK with asyncio sent the same events, at most 8 at once; every phase says how many were out.
    aio = result.sdk_async
    assert aio["events"] == aio["events_received"] == sdk["events"] and not aio["errors"]
    assert 1 <= aio["emulator"]["peak_in_flight"] <= aio["in_flight"] == 8
    assert sdk["emulator"]["peak_in_flight"] == 1
    assert 1 <= inprocess["emulator"]["peak_in_flight"] <= 8 and inprocess["peak_in_flight"] >= 1
    assert all(phase["peak_rss"] > 0 for phase in (inprocess, sdk, aio))
