"""The health page's numbers (konektor_capi.health) against a real PostgreSQL holding sync_logs rows."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from konektor_capi import sql
from konektor_capi.health import as_json, read_health
from konektor_capi.pipeline import NO_TOKEN

pytestmark = pytest.mark.integration

A, B, C, D = "7100000000000001", "7200000000000002", "7300000000000003", "7400000000000004"
NOW = datetime(2026, 11, 30, 14, 25, tzinfo=UTC)
_ids = itertools.count(1000)


def log(konektor, pixel: str, status: str, at: datetime, n: int = 1, *, reason: str | None = None,
        code: int | None = None, subcode: int | None = None, updated: datetime | None = None,
        match_keys: str | None = None) -> list[int]:  # fmt: skip
    """n sync_logs rows of one pixel, status and event time; their status_change_ids."""
    if status != "accepted" and reason is None:
        reason = f"meta error {code}" if code else "some reason"
    ids = [next(_ids) for _ in range(n)]
    extra = ", match_keys" if match_keys is not None else ""
    for i in ids:
        konektor.execute(
            "INSERT INTO sync_logs (status_change_id, pixel_id, lead_id, workspace_id, event_name, event_id, "
            f"event_time, status, reason, error_code, error_subcode, updated_at{extra}) "
            f"VALUES (%s, %s, %s, 1, 'Lead', %s, %s, %s, %s, %s, %s, %s{', %s' if extra else ''})",
            (i, pixel, i, f"e{i}", at, status, reason, code, subcode, updated or at,
             *([match_keys] if extra else [])),
        )  # fmt: skip
    return ids


def test_hourly_outcomes_per_pixel_cover_the_last_7_days_and_today_is_since_midnight_utc(engine, konektor):
    hour = NOW.replace(minute=0)
    log(konektor, A, "accepted", hour + timedelta(minutes=5), 3)
    log(konektor, A, "failed", hour + timedelta(minutes=20), 1, code=2)
    log(konektor, A, "accepted", hour - timedelta(hours=14, minutes=30), 2)  # yesterday 23:xx UTC
    log(konektor, A, "skipped", hour - timedelta(hours=3), 4)
    log(konektor, B, "partial_failure", hour - timedelta(days=6, hours=23), 5)  # the window's first hour
    log(konektor, B, "accepted", hour - timedelta(days=7, minutes=1), 7)  # before the window
    log(konektor, B, "accepted", hour + timedelta(hours=1, minutes=1), 9)  # after now's hour: not counted

    health = read_health(engine, NOW)

    assert health.since == hour - timedelta(days=7) + timedelta(hours=1)
    assert health.hourly[A][hour] == {"accepted": 3, "failed": 1}
    assert health.hourly[A][hour - timedelta(hours=15)] == {"accepted": 2}
    assert health.hourly[B] == {hour - timedelta(days=6, hours=23): {"partial_failure": 5}}
    assert health.today() == {
        A: {"accepted": 3, "partial_failure": 0, "failed": 1, "skipped": 4},
        B: {"accepted": 0, "partial_failure": 0, "failed": 0, "skipped": 0},
    }
    assert health.totals() == {"accepted": 5, "partial_failure": 5, "failed": 1, "skipped": 4}
    json.dumps(as_json(health))  # the JSON endpoint's body serialises


def test_pixels_needing_a_person_are_named_with_what_to_do(engine, konektor):
    at = NOW - timedelta(hours=5)
    token = log(konektor, A, "failed", at, 3, code=190, subcode=463, reason="meta error 190/463: expired")
    log(konektor, B, "failed", at, 2, code=200, reason="meta error 200: permission")
    log(konektor, C, "failed", at, 1, code=100, subcode=33, reason="meta error 100/33: unknown")
    log(konektor, D, "skipped", at, 2, reason=NO_TOKEN)
    log(konektor, D, "skipped", NOW - timedelta(days=3), 5, reason=NO_TOKEN)  # 3 days ago: may be fixed
    log(konektor, A, "failed", at, 4, code=2, reason="meta error 2: service unavailable")  # heals alone
    log(konektor, A, "failed", NOW - timedelta(days=8), 1, code=190)  # outside Meta's 7 days

    problems = {(p.pixel_id, p.problem): p for p in read_health(engine, NOW).needs_action}

    assert {k: p.events for k, p in problems.items()} == {
        (A, "token_refused"): 3,
        (B, "permission_missing"): 2,
        (C, "unknown_pixel"): 1,
        (D, "token_missing"): 2,
    }
    refused = problems[(A, "token_refused")]
    assert refused.example_status_change_id == min(token)
    assert refused.latest_reason == "meta error 190/463: expired"
    assert "new system-user token" in refused.todo


def test_top_reasons_count_what_did_not_go_through_with_an_example_change(engine, konektor):
    at = NOW - timedelta(hours=2)
    old = log(konektor, A, "skipped", at, 3, reason="no customer identifier Meta can match")
    log(konektor, B, "skipped", at, 2, reason="no customer identifier Meta can match")
    log(konektor, A, "failed", at, 1, code=190, reason="meta error 190: expired")
    log(konektor, A, "accepted", at, 10)
    log(konektor, A, "skipped", NOW - timedelta(days=9), 50, reason="older than Meta's 7-day window")

    reasons = read_health(engine, NOW).reasons

    assert [(r.status, r.reason, r.n, r.pixels) for r in reasons] == [
        ("skipped", "no customer identifier Meta can match", 5, 2),
        ("failed", "meta error 190: expired", 1, 1),
    ]
    assert reasons[0].example_status_change_id == min(old)


def test_a_database_the_pipeline_has_not_upgraded_yet_shows_no_match_key_coverage(engine, konektor):
    log(konektor, A, "accepted", NOW - timedelta(hours=1), 1)
    konektor.execute("ALTER TABLE sync_logs DROP COLUMN match_keys")  # as before its first sync since

    assert read_health(engine, NOW).match_keys is None


def test_match_key_coverage_counts_the_events_meta_took_that_recorded_their_keys(engine, konektor):
    at = NOW - timedelta(hours=1)
    log(konektor, A, "accepted", at, 1)  # recorded before sync_logs had match keys: not counted
    log(konektor, A, "accepted", at, 3, match_keys="em,ph,fbc")
    log(konektor, A, "partial_failure", at, 1, match_keys="em")
    log(konektor, A, "failed", at, 6, code=2, match_keys="ph")  # not taken by Meta: not counted
    log(konektor, B, "accepted", at, 2, match_keys="ph, ctwa_clid")
    log(konektor, B, "accepted", NOW - timedelta(days=2), 8, match_keys="em")  # outside the last day

    coverage = {c.pixel_id: c for c in read_health(engine, NOW).match_keys}

    assert coverage[A].events == 4 and coverage[A].keys == {"em": 4, "fbc": 3, "ph": 3}
    assert coverage[B].keys == {"ctwa_clid": 2, "ph": 2}
    assert coverage[A].share("fbc") == 0.75


def test_the_last_runs_come_newest_first_with_their_summaries(engine, konektor):
    def run(run_id, mode, started, summary, dry=False):
        konektor.execute(
            "INSERT INTO sync_runs (run_id, mode, window_start, window_end, dry_run, started_at, "
            "finished_at, summary) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (run_id, mode, started - timedelta(hours=1), started, dry, started,
             started + timedelta(seconds=9), json.dumps(summary)),
        )  # fmt: skip

    run("scheduled__1", "hourly", NOW - timedelta(hours=2), {"outcomes": [
        {"pixel_id": A, "event_name": "Lead", "status": "accepted", "n": 4},
        {"pixel_id": B, "event_name": "Lead", "status": "accepted", "n": 2},
        {"pixel_id": B, "event_name": "Lead", "status": "failed", "n": 1}]})  # fmt: skip
    would = [{"pixel_id": A, "event_name": "Lead", "action_source": "website", "n": 7}]
    run("manual__2", "backfill", NOW - timedelta(hours=1), {"would_send": would, "outcomes": []}, dry=True)

    runs = read_health(engine, NOW).runs

    assert [(r.run_id, r.kind) for r in runs] == [("manual__2", "dry run"), ("scheduled__1", "hourly")]
    assert runs[1].totals == {"accepted": 6, "partial_failure": 0, "failed": 1, "skipped": 0}
    assert runs[0].would_send == 7


def _plan(db_uri: str, name: str, params: dict) -> str:
    conn = psycopg2.connect(db_uri)
    try:
        with conn.cursor() as cur:
            cur.execute("SET enable_seqscan = off")  # a tiny table: ask whether the index can serve it
            cur.execute(b"EXPLAIN " + cur.mogrify(sql.load(name), params))
            return "\n".join(row[0] for row in cur.fetchall())
    finally:
        conn.close()


def test_the_chart_and_the_reasons_come_from_index_only_scans(db_uri, konektor):
    log(konektor, A, "accepted", NOW, 5)
    konektor.execute("VACUUM ANALYZE sync_logs")
    window = {"since": NOW - timedelta(days=7), "until": NOW}

    hourly = _plan(db_uri, "health_hourly", window)
    reasons = _plan(db_uri, "health_reasons", {**window, "limit": 10})

    assert "Index Only Scan using sync_logs_time_status" in hourly
    assert "Index Only Scan using sync_logs_not_accepted_time" in reasons


def test_the_schema_adds_the_health_indexes_and_statistics_to_an_existing_table_once(engine, konektor):
    from konektor_capi.db import ensure_pipeline_schema

    konektor.execute("DROP INDEX sync_logs_time_status, sync_logs_not_accepted_time")
    konektor.execute("DROP STATISTICS sync_logs_health_hour")
    ensure_pipeline_schema(engine)
    ensure_pipeline_schema(engine)

    rows = konektor.execute(
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE indexname IN ('sync_logs_time_status', 'sync_logs_not_accepted_time') ORDER BY 1"
    )
    assert [(name, d.split(" USING ")[1]) for name, d in rows] == [
        ("sync_logs_not_accepted_time", "btree (event_time) INCLUDE (status, pixel_id, reason, error_code, "
         "error_subcode, status_change_id, workspace_id, updated_at) WHERE (status <> 'accepted'::text)"),
        ("sync_logs_time_status", "btree (event_time, status) INCLUDE (pixel_id)"),
    ]  # fmt: skip
    stats = konektor.execute("SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'sync_logs_health_hour'")
    assert stats == [(1,)]
