"""Backfills for analysts: a date range, pixel filter, dry run; the hourly watermark stays put."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factory import now
from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

P1, P2 = "5000000000000001", "5000000000000002"


@pytest.fixture
def workspace(konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, P1, token="tok-1")
    konektor.pixel(ws, P2, token="tok-2")
    meta.register_pixels({P1: "tok-1", P2: "tok-2"})
    return ws


def watermark(konektor):
    rows = konektor.execute("SELECT watermark FROM sync_watermark")
    return rows[0][0] if rows else None


def test_backfill_skips_what_meta_no_longer_takes_and_leaves_the_watermark(engine, client, konektor, meta,
                                                                         workspace):  # fmt: skip
    lead = konektor.lead(workspace)
    old = konektor.change(lead, "new", ago=timedelta(days=9))
    recent = konektor.change(lead, "qualified", ago=timedelta(days=3))
    sync_once(engine, client, "hourly-1")
    mark = watermark(konektor)

    t = now()
    sync_once(
        engine, client, "backfill-1", mode="backfill", window_start=t - timedelta(days=10), window_end=t
    )

    rows = {(r["status_change_id"], r["pixel_id"]): r for r in konektor.sync_logs()}
    assert rows[(old, P1)]["status"] == "skipped"
    assert "7-day window" in rows[(old, P1)]["reason"]
    assert rows[(recent, P1)]["status"] == "accepted"
    assert watermark(konektor) == mark
    assert meta.stats()["events_received"] == 2  # the recent change, once per pixel: nothing resent


def test_backfill_of_some_pixels_touches_only_those(engine, client, konektor, meta, workspace):
    lead = konektor.lead(workspace)
    change = konektor.change(lead, "new", ago=timedelta(days=2))
    t = now()
    sync_once(
        engine, client, "b", mode="backfill", window_start=t - timedelta(days=3), window_end=t, pixel_ids=[P2]
    )
    assert [(r["status_change_id"], r["pixel_id"]) for r in konektor.sync_logs()] == [(change, P2)]
    assert watermark(konektor) is None


def test_dry_run_sends_nothing_records_nothing_and_reports(engine, client, konektor, meta, workspace):
    lead = konektor.lead(workspace)
    konektor.change(lead, "new", ago=timedelta(days=2))
    konektor.change(lead, "won", ago=timedelta(days=1))  # no deal value: would be skipped
    t = now()
    window = {"window_start": t - timedelta(days=3), "window_end": t}
    summary = sync_once(engine, client, "dry", mode="backfill", dry_run=True, **window)
    assert meta.stats()["requests"] == 0
    assert konektor.sync_logs() == []
    assert watermark(konektor) is None
    would = {(w["pixel_id"], w["event_name"], w["action_source"]): w["n"] for w in summary["would_send"]}
    assert would == {(P1, "Lead", "system_generated"): 1, (P2, "Lead", "system_generated"): 1}
    assert summary["top_reasons"][0]["n"] == 2
    assert "no deal value" in summary["top_reasons"][0]["reason"]
