"""Field safety (issue 11): failed and test-sent events are not stranded, overlapping runs never send
twice, and no status change is dropped silently. Real PostgreSQL, real Graph API emulator."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pandas as pd
import psycopg2
import pytest

from devtools import embedded_pg
from konektor_capi import pipeline
from konektor_capi.db import ensure_pipeline_schema, make_engine
from konektor_capi.graph_client import GraphApiClient
from konektor_capi.mapping import EventMapping
from konektor_capi.outcomes import ACCEPTED, FAILED, Outcomes
from konektor_capi.pipeline import IncompleteRun, finish_run, plan_groups, sync_group
from konektor_capi.recording import OutcomeRecorder
from konektor_capi.report import format_summary
from konektor_capi.runs import open_run
from tests.factory import now
from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

P = "8100000000000001"


@pytest.fixture
def workspace(konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, P, token="tok")
    meta.register_pixels({P: "tok"})
    return ws


def outcomes(konektor) -> dict[int, dict]:
    return {r["status_change_id"]: r for r in konektor.sync_logs() if r["pixel_id"] == P}


def sent(meta) -> list[tuple[str, str]]:
    """(event_id, test code or "live") of every event the emulator took for pixel P, in order sent."""
    return [(e["event"]["event_id"], e["test_event_code"] or "live") for e in meta.events(pixel_id=P)]


# -- item 4: failed events are retried while Meta still takes them ---------------------------------


def test_events_failed_on_an_expired_token_are_sent_by_a_later_hourly_run_once_it_is_renewed(
    engine, client, konektor, meta, workspace
):
    meta.register_pixels({P: {"token": "tok", "status": "expired"}})
    lead = konektor.lead(workspace)
    t1 = now()
    c1 = konektor.change(lead, "new", at=t1 - timedelta(hours=3))
    c2 = konektor.change(lead, "qualified", at=t1 - timedelta(hours=2))

    sync_once(engine, client, "run-1", window_end=t1)  # first run: 7 days back, token expired
    assert {c: r["status"] for c, r in outcomes(konektor).items()} == {c1: "failed", c2: "failed"}
    assert outcomes(konektor)[c1]["error_code"] == 190

    meta.register_pixels({P: "tok"})  # renewed hours later
    # This run's window (run-1's end less the hour of grace, onwards) no longer covers the changes.
    summary = sync_once(engine, client, "run-2", window_end=t1 + timedelta(hours=5))

    rows = outcomes(konektor)
    assert {c: r["status"] for c, r in rows.items()} == {c1: "accepted", c2: "accepted"}
    assert rows[c1]["run_id"] == "run-2" and rows[c1]["attempts"] >= 1
    assert sorted(sent(meta)) == [(f"konektor-lsc-{c1}", "live"), (f"konektor-lsc-{c2}", "live")]
    assert summary["pairs"] == 0  # the window itself had nothing: the retries are extra work

    sync_once(engine, client, "run-3", window_end=t1 + timedelta(hours=6))
    assert meta.stats()["events_received"] == 2  # nothing resent


def _failed_row(konektor, change: int, lead: int, ws: int, at) -> None:
    konektor.execute(
        "INSERT INTO sync_logs (status_change_id, pixel_id, lead_id, workspace_id, event_name, event_id, "
        "action_source, event_time, status, reason, error_code, error_subcode, attempts, run_id) "
        "VALUES (%s, %s, %s, %s, 'Lead', %s, 'system_generated', %s, 'failed', "
        "'meta error 190/463: token expired', 190, 463, 1, 'old-run')",
        (change, P, lead, ws, f"konektor-lsc-{change}", at),
    )


def test_failed_pairs_past_or_too_close_to_metas_7_days_become_skipped_as_too_old_and_are_not_sent(
    engine, client, konektor, meta, workspace
):
    lead = konektor.lead(workspace)
    t = now()
    old = konektor.change(lead, "new", at=t - timedelta(days=8))
    edge = konektor.change(lead, "new", at=t - timedelta(days=7) + timedelta(minutes=5))  # crosses in flight
    fresh = konektor.change(lead, "new", at=t - timedelta(days=2))
    for change, at in ((old, t - timedelta(days=8)), (edge, t - timedelta(days=7) + timedelta(minutes=5)),
                       (fresh, t - timedelta(days=2))):  # fmt: skip
        _failed_row(konektor, change, lead, workspace, at)
    konektor.execute("INSERT INTO sync_watermark (name, watermark) VALUES ('meta_capi_sync', %s)",
                     (t - timedelta(minutes=30),))  # fmt: skip

    sync_once(engine, client, "hourly", window_end=t)

    rows = outcomes(konektor)
    for change in (old, edge):
        assert rows[change]["status"] == "skipped"
        assert rows[change]["reason"].startswith("older than Meta's 7-day window for server events")
    assert rows[fresh]["status"] == "accepted"
    assert sent(meta) == [(f"konektor-lsc-{fresh}", "live")]
    assert meta.stats()["events_rejected"] == 0  # no batch sunk by a too-old event


def test_a_backfill_keeps_to_its_range_and_does_not_retry_older_failures(
    engine, client, konektor, meta, workspace
):
    lead = konektor.lead(workspace)
    t = now()
    failed = konektor.change(lead, "new", at=t - timedelta(days=2))
    _failed_row(konektor, failed, lead, workspace, t - timedelta(days=2))
    sync_once(engine, client, "b", mode="backfill", window_start=t - timedelta(hours=5), window_end=t)
    assert outcomes(konektor)[failed]["status"] == "failed"
    assert meta.stats()["requests"] == 0


# -- item 5: test events do not use up live conversions --------------------------------------------


def test_events_sent_with_a_test_code_go_live_once_the_code_is_removed(engine, client, konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, P, token="tok", test_event_code="TEST4242")
    meta.register_pixels({P: "tok"})
    lead = konektor.lead(ws)
    t1 = now()
    change = konektor.change(lead, "new", at=t1 - timedelta(hours=3))
    event_id = f"konektor-lsc-{change}"

    sync_once(engine, client, "run-1", window_end=t1)
    assert sent(meta) == [(event_id, "TEST4242")]
    row = outcomes(konektor)[change]
    assert (row["status"], row["test_event_code"]) == ("accepted", "TEST4242")

    sync_once(engine, client, "run-2", window_end=t1 + timedelta(hours=1))  # code still set
    assert meta.stats()["events_received"] == 1

    konektor.execute("UPDATE meta_pixels SET test_event_code = NULL")
    sync_once(engine, client, "run-3", window_end=t1 + timedelta(hours=2))
    assert sent(meta) == [(event_id, "TEST4242"), (event_id, "live")]
    row = outcomes(konektor)[change]
    assert (row["status"], row["test_event_code"], row["run_id"]) == ("accepted", None, "run-3")

    # Live is final: neither the next hourly run nor a test backfill sends it again.
    sync_once(engine, client, "run-4", window_end=t1 + timedelta(hours=3))
    sync_once(engine, client, "b", mode="backfill", window_start=t1 - timedelta(days=1), window_end=t1,
              test_event_code="TEST7")  # fmt: skip
    assert meta.stats()["events_received"] == 2
    assert outcomes(konektor)[change]["test_event_code"] is None


def test_a_run_with_a_test_code_param_does_not_use_up_the_live_event(engine, client, konektor, meta,
                                                                     workspace):  # fmt: skip
    lead = konektor.lead(workspace)
    t = now()
    change = konektor.change(lead, "new", at=t - timedelta(hours=3))
    window = {"window_start": t - timedelta(days=1), "window_end": t}
    sync_once(engine, client, "b-test", mode="backfill", test_event_code="TEST1", **window)
    sync_once(engine, client, "b-test-again", mode="backfill", test_event_code="TEST1", **window)
    assert sent(meta) == [(f"konektor-lsc-{change}", "TEST1")]
    sync_once(engine, client, "b-live", mode="backfill", **window)
    assert sent(meta) == [(f"konektor-lsc-{change}", "TEST1"), (f"konektor-lsc-{change}", "live")]
    assert outcomes(konektor)[change]["test_event_code"] is None


# -- item 6: overlapping runs never send one workspace's events twice ------------------------------


def _many_changes(konektor, ws: int, n: int) -> None:
    konektor.execute(
        "INSERT INTO leads (id, workspace_id, status, email) "
        "SELECT 300000 + i, %s, 'new', 'lead' || i || '@example.com' FROM generate_series(1, %s) i",
        (ws, n),
    )
    konektor.execute(
        "INSERT INTO lead_status_changes (lead_id, to_status, changed_at) "
        "SELECT 300000 + i, 'new', now() - interval '50 minutes' + i * interval '1 millisecond' "
        "FROM generate_series(1, %s) i",
        (n,),
    )


def _advisory_locks(konektor) -> int:
    return konektor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")[0][0]


class _Run(threading.Thread):
    """One run (open, plan, sync each group, finish) on its own engine, as another process would."""

    def __init__(self, db_uri, client, run_id: str, lease_wait: float, **run_args) -> None:
        super().__init__(name=run_id, daemon=True)
        self.db_uri, self.client, self.run_id, self.lease_wait = db_uri, client, run_id, lease_wait
        self.run_args, self.results, self.summary, self.error = run_args, [], None, None

    def run(self) -> None:
        engine = make_engine(embedded_pg.sqlalchemy_url(self.db_uri))
        client = GraphApiClient(self.client.config)
        try:
            mapping = EventMapping()
            run = open_run(engine, self.run_id, **self.run_args)
            for group in plan_groups(engine, run, mapping):
                self.results.append(sync_group(engine, client, run, group, mapping,
                                               lease_wait=self.lease_wait))  # fmt: skip
            self.summary = finish_run(engine, run, mapping)
        except Exception as exc:  # the test inspects it
            self.error = exc
        finally:
            client.close()
            engine.dispose()


def _wait_until_sending(meta, timeout: float = 30.0) -> None:
    """Until the first run's first request is at Meta (the slow fault has seen it), not yet answered."""
    deadline = time.monotonic() + timeout
    while not meta.faults()[0]["seen"]:
        assert time.monotonic() < deadline, "the first run never sent"
        time.sleep(0.02)


def test_an_overlapping_backfill_leaves_the_workspace_to_the_running_sync_and_nothing_is_sent_twice(
    db_uri, client, konektor, meta, workspace
):
    n = 300
    _many_changes(konektor, workspace, n)
    meta.add_fault("slow", seconds=3)  # Meta answers slowly: the hourly run is mid-send for a while
    t = now()
    hourly = _Run(db_uri, client, "hourly", 30, mode="hourly", window_end=t)
    backfill = _Run(db_uri, client, "backfill", 0.3, mode="backfill", window_start=t - timedelta(hours=2),
                    window_end=t)  # fmt: skip
    hourly.start()
    _wait_until_sending(meta)
    backfill.start()
    backfill.join(60)
    hourly.join(60)

    assert hourly.error is None and hourly.summary["pairs"] == hourly.summary["recorded"] == n
    assert [r.leased_elsewhere for r in backfill.results] == [[workspace]]
    assert isinstance(backfill.error, IncompleteRun)  # its pairs were the hourly run's, still in flight
    assert "left to another run" in str(backfill.error)
    stats = meta.stats()
    assert stats["events_received"] == stats["accepted_distinct"] == n and stats["duplicates"] == 0
    assert konektor.execute("SELECT status, count(*) FROM sync_logs GROUP BY 1") == [("accepted", n)]
    assert _advisory_locks(konektor) == 0  # every lease released

    # Rerun of the backfill: the workspace is free, everything already has its outcome.
    again = _Run(db_uri, client, "backfill", 0.3, mode="backfill", window_start=t - timedelta(hours=2),
                 window_end=t)  # fmt: skip
    again.run()
    assert again.error is None and again.summary["recorded"] == n
    assert meta.stats()["events_received"] == n


def test_a_run_that_waits_for_the_lease_reads_what_is_owed_after_taking_it(
    db_uri, client, konektor, meta, workspace
):
    n = 200
    _many_changes(konektor, workspace, n)
    meta.add_fault("slow", seconds=1.0)
    t = now()
    first = _Run(db_uri, client, "hourly", 30, mode="hourly", window_end=t)
    second = _Run(db_uri, client, "backfill", 30, mode="backfill", window_start=t - timedelta(hours=2),
                  window_end=t)  # fmt: skip
    first.start()
    _wait_until_sending(meta)
    second.start()
    first.join(60)
    second.join(60)

    assert first.error is None and second.error is None
    assert second.results[0].leased_elsewhere == []
    assert second.summary["recorded"] == n and second.summary["requests"] == 0
    stats = meta.stats()
    assert stats["events_received"] == n and stats["duplicates"] == 0


def test_a_lease_held_elsewhere_keeps_the_watermark_and_is_freed_when_its_session_ends(
    engine, client, konektor, meta, workspace, db_uri, monkeypatch
):
    lead = konektor.lead(workspace)
    konektor.change(lead, "new")
    other = psycopg2.connect(db_uri)  # another run's process, holding the workspace
    with other.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (pipeline.LEASE_NAMESPACE, workspace))
        assert cur.fetchone()[0]
    t = now()
    with pytest.raises(IncompleteRun, match="left to another run"):
        sync_once(engine, client, "run-1", window_end=t, lease_wait=0.2)
    assert meta.stats()["requests"] == 0
    assert konektor.execute("SELECT count(*) FROM sync_watermark") == [(0,)]

    other.close()  # the holder dies: its session ends, and its lease with it
    summary = sync_once(engine, client, "run-1", window_end=t)
    assert summary["pairs"] == summary["recorded"] == 1 and "leased_elsewhere" not in summary
    assert meta.stats()["events_received"] == 1
    assert _advisory_locks(konektor) == 0


# -- item 11: nothing dropped silently -------------------------------------------------------------


def test_statuses_match_whatever_their_case_and_spaces(engine, client, konektor, meta, workspace):
    won = konektor.lead(workspace, deal_value=250000)
    spaced = konektor.lead(workspace, deal_value=100000)
    shouting = konektor.lead(workspace)
    changes = [konektor.change(won, "Won"), konektor.change(spaced, " won "),
               konektor.change(shouting, "NEW")]  # fmt: skip

    summary = sync_once(engine, client)

    rows = outcomes(konektor)
    assert [(rows[c]["status"], rows[c]["event_name"]) for c in changes] == [
        ("accepted", "Purchase"), ("accepted", "Purchase"), ("accepted", "Lead"),
    ]  # fmt: skip
    assert summary["pairs"] == summary["recorded"] == 3


def test_a_change_whose_lead_is_gone_is_reported_and_does_not_stall_the_watermark(
    engine, client, konektor, meta, workspace
):
    konektor.execute("ALTER TABLE lead_status_changes DROP CONSTRAINT lead_status_changes_lead_id_fkey")
    kept = konektor.change(konektor.lead(workspace), "new")
    konektor.change(987654, "won")  # its lead was deleted (or never reached this database)
    t = now()

    summary = sync_once(engine, client, window_end=t)

    assert summary["orphan_changes"] == 1
    assert "1 status change(s) whose lead no longer exists were not sent" in format_summary(summary)
    assert list(outcomes(konektor)) == [kept] and summary["pairs"] == summary["recorded"] == 1
    assert konektor.execute("SELECT watermark FROM sync_watermark") == [(t,)]


def test_a_live_outcome_replaces_a_test_one_and_never_the_other_way_round(engine, konektor, workspace):
    lead = konektor.lead(workspace)
    test_only, live_first = konektor.change(lead, "new"), konektor.change(lead, "qualified")
    events = pd.DataFrame({"status_change_id": [test_only, live_first], "pixel_id": [P, P], "lead_id": lead,
                           "workspace_id": workspace, "waba_id": None, "event_name": "Lead",
                           "event_id": ["a", "b"], "action_source": "system_generated",
                           "event_time": int(time.time())})  # fmt: skip
    first, second = events.iloc[:1], events.iloc[1:]
    with OutcomeRecorder(engine) as recorder:
        recorder.record(Outcomes(first, ACCEPTED, None, "r1", attempts=1, test_event_code="T1"))
        recorder.record(Outcomes(second, ACCEPTED, None, "r1", attempts=1))
        recorder.record(Outcomes(events, ACCEPTED, None, "r2", attempts=1, test_event_code="T1"))  # same code
        recorder.record(Outcomes(events, ACCEPTED, None, "r3", attempts=1, test_event_code="T2"))
        assert {c: (r["run_id"], r["test_event_code"]) for c, r in outcomes(konektor).items()} == {
            test_only: ("r3", "T2"), live_first: ("r1", None),
        }  # fmt: skip
        recorder.record(Outcomes(events, FAILED, "meta error 2: down", "r4", attempts=3))
    rows = outcomes(konektor)
    assert (rows[test_only]["status"], rows[test_only]["test_event_code"]) == ("failed", None)
    assert (rows[live_first]["status"], rows[live_first]["run_id"]) == ("accepted", "r1")


def test_an_existing_sync_logs_gains_the_test_code_column_and_later_syncs_do_not_wait_on_readers(
    engine, konektor, db_uri
):
    konektor.execute("DROP INDEX sync_logs_test_events")
    konektor.execute("ALTER TABLE sync_logs DROP COLUMN test_event_code")  # a deployment from before
    ensure_pipeline_schema(engine)
    assert konektor.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'sync_logs' "
        "AND column_name = 'test_event_code'"
    ) == [(1,)]
    assert konektor.execute("SELECT to_regclass('sync_logs_test_events') IS NOT NULL") == [(True,)]

    reader = psycopg2.connect(db_uri)  # another run's extract, reading sync_logs in a long statement
    try:
        with reader.cursor() as cur:
            cur.execute("SELECT count(*) FROM sync_logs")
        done = threading.Event()
        thread = threading.Thread(target=lambda: (ensure_pipeline_schema(engine), done.set()), daemon=True)
        thread.start()
        thread.join(10)
        assert done.is_set()  # no ALTER TABLE (ACCESS EXCLUSIVE) queued behind the reader
    finally:
        reader.close()
