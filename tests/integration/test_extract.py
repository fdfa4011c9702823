"""The extract's COPY stream on the real database: every row once, in pages, and a clean stop."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg2
import pytest

from konektor_capi import extract
from konektor_capi.extract import ExtractQuery, iter_changes
from konektor_capi.mapping import EventMapping
from tests.factory import now

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
