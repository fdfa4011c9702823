"""The extract's COPY stream on the real database: every row once, in pages, and a clean stop."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import psycopg2
import pytest

from konektor_capi import extract, sql
from konektor_capi.extract import ExtractQuery, iter_changes
from konektor_capi.mapping import EventMapping
from tests.factory import now

pytestmark = pytest.mark.integration

N = 3000


@pytest.fixture
def many_changes(konektor):
    ws = konektor.workspace(1)
    konektor.pixel(ws, "7000000000000001", token="tok")
    konektor.pixel(ws, "7000000000000002", token="tok")
    konektor.execute(
        "INSERT INTO leads (id, workspace_id, status, email, first_name) "
        "SELECT 200000 + i, %s, 'new', 'lead' || i || '@example.com', repeat('n', 200) "
        "FROM generate_series(1, %s) i",
        (ws, N),
    )
    konektor.execute(
        "INSERT INTO lead_status_changes (lead_id, to_status, changed_at) "
        "SELECT 200000 + i, 'new', now() - interval '50 minutes' + i * interval '1 millisecond' "
        "FROM generate_series(1, %s) i",
        (N,),
    )
    return ws


def _query(ws: int) -> ExtractQuery:
    end = now()
    return ExtractQuery(end - timedelta(hours=1), end, EventMapping().statuses, None, [ws])


def _extract_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "extract-copy"]


def test_every_pending_change_comes_once_in_pages_with_its_pixels(engine, many_changes, monkeypatch):
    # Less read-ahead room than the CSV, so the database has to wait for the parser.
    monkeypatch.setattr(extract, "READ_AHEAD_BYTES", 64 << 10)

    pages = list(iter_changes(engine, _query(many_changes), page_size=700))

    assert [len(p) for p in pages] == [700] * 4 + [N - 2800]
    ids = [i for p in pages for i in p["status_change_id"].tolist()]
    assert len(ids) == len(set(ids)) == N
    assert {k for p in pages for k in p["pixel_keys"].tolist()} == {"1 2"}
    assert _extract_threads() == []


def test_a_consumer_that_stops_early_releases_the_stream_and_its_connection(
    engine, many_changes, monkeypatch, konektor
):
    monkeypatch.setattr(extract, "READ_AHEAD_BYTES", 64 << 10)

    pages = iter_changes(engine, _query(many_changes), page_size=500)
    first = next(pages)
    pages.close()  # the task failed or was stopped mid-run

    assert len(first) == 500
    assert _extract_threads() == []
    copying = konektor.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY (%%'")
    assert copying == [(0,)]


def test_a_database_error_during_the_copy_is_raised_to_the_consumer(engine, many_changes, monkeypatch):
    monkeypatch.setattr(extract.sql, "load", lambda name: "SELECT 1 / 0 AS boom")

    with pytest.raises(psycopg2.errors.DivisionByZero):
        list(iter_changes(engine, _query(many_changes)))
    assert _extract_threads() == []


@pytest.fixture
def long_history(konektor, many_changes):
    """200k outcomes of older changes in sync_logs, analysed, beside the window's 3000 changes."""
    konektor.execute(
        "INSERT INTO sync_logs (status_change_id, pixel_id, lead_id, workspace_id, event_id, event_time, "
        "status) SELECT 10000000 + i, '7000000000000001', 1, %s, 'e' || i, now(), 'accepted' "
        "FROM generate_series(1, 200000) i",
        (many_changes,),
    )
    konektor.execute("ANALYZE sync_logs")
    return many_changes


def _plan(db_uri: str, query: ExtractQuery) -> str:
    conn = psycopg2.connect(db_uri)
    try:
        with conn.cursor() as cur:
            for setting in extract.planner_settings(query.expected_pairs):
                cur.execute(setting)
            cur.execute(b"EXPLAIN " + cur.mogrify(sql.load("extract_changes"), query.params()))
            return "\n".join(row[0] for row in cur.fetchall())
    finally:
        conn.close()


def test_a_small_window_looks_its_changes_up_in_sync_logs_instead_of_reading_all_history(
    db_uri, long_history
):
    base = _query(long_history)
    small = replace(base, window_start=base.window_end - timedelta(minutes=1), expected_pairs=100)

    assert "sync_logs_pkey" in _plan(db_uri, small)
    # Unknown or large: hash joins only, whatever the statistics say (never a rescan per change).
    for expected in (0, extract.SMALL_WINDOW_PAIRS + 1):
        plan = _plan(db_uri, replace(small, expected_pairs=expected))
        assert "Nested Loop" not in plan and "Hash Anti Join" in plan.replace("Right ", "")


def test_a_small_window_extracts_the_same_changes_as_a_large_one(engine, long_history):
    def ids(expected_pairs: int) -> list[int]:
        query = replace(_query(long_history), expected_pairs=expected_pairs)
        return sorted(i for page in iter_changes(engine, query) for i in page["status_change_id"].tolist())

    assert ids(2 * N) == ids(0)
    assert len(ids(2 * N)) == N


@pytest.fixture
def failed_before_the_window(konektor, long_history):
    """100 changes of two days ago whose first pixel's event failed (a token outage), and one sent with a
    test code the pixel no longer has: what an hourly run retries beside its window."""
    rows = konektor.execute(
        "INSERT INTO lead_status_changes (lead_id, to_status, changed_at) "
        "SELECT 200000 + i, 'new', now() - interval '2 days' FROM generate_series(1, 101) i RETURNING id"
    )
    ids = sorted(r[0] for r in rows)
    konektor.execute(
        "INSERT INTO sync_logs (status_change_id, pixel_id, lead_id, workspace_id, event_id, event_time, "
        "status, reason, test_event_code) "
        "SELECT c.id, '7000000000000001', c.lead_id, %s, 'e' || c.id, c.changed_at, "
        "CASE WHEN c.id = %s THEN 'accepted' ELSE 'failed' END, "
        "CASE WHEN c.id = %s THEN NULL ELSE 'meta error 190' END, CASE WHEN c.id = %s THEN 'TEST1' END "
        "FROM lead_status_changes c WHERE c.id = ANY(%s)",
        (long_history, ids[-1], ids[-1], ids[-1], ids),
    )
    konektor.execute("ANALYZE sync_logs, lead_status_changes, leads")
    return ids


def test_an_hourly_window_reads_its_retries_from_the_partial_indexes_per_pixel(
    db_uri, failed_before_the_window
):
    base = _query(1)
    hourly = replace(base, window_start=base.window_end - timedelta(minutes=1), expected_pairs=300,
                     retry_since=base.window_end - timedelta(days=7))  # fmt: skip

    plan = _plan(db_uri, hourly)

    # failed pairs: (pixel_id, status) of sync_logs_not_accepted; test sends: (pixel_id, event_time)
    assert "sync_logs_not_accepted" in plan and "sync_logs_test_events" in plan
    assert "pixel_id = ANY" in plan
    assert "Seq Scan on sync_logs" not in plan


def test_retries_come_out_the_same_whatever_the_plan(engine, failed_before_the_window):
    base = _query(1)
    hourly = replace(base, retry_since=base.window_end - timedelta(days=7))

    def owed(expected_pairs: int) -> dict[int, str]:
        query = replace(hourly, expected_pairs=expected_pairs)
        pages = list(iter_changes(engine, query))
        return {i: k for page in pages
                for i, k in zip(page["status_change_id"], page["pixel_keys"], strict=True)}  # fmt: skip

    small, large = owed(2 * N + 101), owed(0)
    assert small == large
    retried = {i: small[i] for i in failed_before_the_window if i in small}
    assert retried == dict.fromkeys(failed_before_the_window, "1")  # the failed and the stale test send
    # A backfill (no retry_since) keeps to its range.
    assert not set(failed_before_the_window) & {
        i for page in iter_changes(engine, base) for i in page["status_change_id"].tolist()
    }
