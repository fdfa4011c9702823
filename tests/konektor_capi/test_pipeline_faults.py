"""The sync under Meta's and the network's faults, and under crashes, on the real stack."""

from __future__ import annotations

import math
import time

import pytest

from konektor_capi.graph_client import GraphApiClient, GraphApiConfig
from konektor_capi.mapping import EventMapping
from konektor_capi.pipeline import plan_groups, sync_group
from konektor_capi.recording import OutcomeRecorder
from konektor_capi.retry_policy import Backoff
from konektor_capi.runs import open_run
from tests.factory import now
from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

GOOD, BAD = "6000000000000001", "6000000000000002"


@pytest.fixture
def two_pixels(konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, GOOD, token="tok-good")
    konektor.pixel(ws, BAD, token="tok-bad")
    meta.register_pixels({GOOD: "tok-good", BAD: "tok-bad"})
    return ws


def leads_with_changes(konektor, ws, n: int) -> list[int]:
    konektor.execute(
        "INSERT INTO leads (id, workspace_id, status, email) "
        "SELECT 100000 + i, %s, 'new', 'lead' || i || '@example.com' FROM generate_series(1, %s) i",
        (ws, n),
    )
    rows = konektor.execute(
        "INSERT INTO lead_status_changes (lead_id, to_status, changed_at) "
        "SELECT 100000 + i, 'new', now() - interval '50 minutes' + i * interval '1 millisecond' "
        "FROM generate_series(1, %s) i RETURNING id",
        (n,),
    )
    return sorted(r[0] for r in rows)


def statuses(konektor, pixel_id: str) -> dict[str, int]:
    rows = konektor.execute(
        "SELECT status, count(*) FROM sync_logs WHERE pixel_id = %s GROUP BY 1", (pixel_id,)
    )
    return dict(rows)


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"kind": "token_expired"}, 190),
        ({"kind": "permission"}, 200),
    ],
)
def test_token_and_permission_errors_fail_only_that_pixel_without_retrying(
    engine, client, konektor, meta, two_pixels, fault, code
):
    leads_with_changes(konektor, two_pixels, 1500)
    meta.add_faults([{**fault, "pixel_id": BAD}])
    sync_once(engine, client)
    assert statuses(konektor, GOOD) == {"accepted": 1500}
    assert statuses(konektor, BAD) == {"failed": 1500}
    codes = konektor.execute("SELECT DISTINCT error_code, reason FROM sync_logs WHERE pixel_id = %s", (BAD,))
    assert [c for c, _ in codes] == [code]
    assert "tok-bad" not in codes[0][1]
    # no retry of a token error, and the second batch was never sent once the pixel was known bad
    assert meta.stats()["per_pixel"][BAD]["requests"] == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "throttle", "code": 17, "subcode": 2446079, "times": 2, "retry_after": 1},
        {"kind": "throttle", "code": 613, "times": 1},
        {"kind": "throttle", "code": 80004, "times": 1},
        {"kind": "transient", "code": 2, "times": 2},
        {"kind": "http_503", "times": 2},
    ],
    ids=["throttle-17-retry-after", "throttle-613", "throttle-80004", "transient-2", "http-503"],
)
def test_transient_faults_are_retried_until_accepted(engine, client, konektor, meta, two_pixels, fault):
    changes = leads_with_changes(konektor, two_pixels, 20)
    meta.add_faults([{**fault, "pixel_id": GOOD}])
    sync_once(engine, client)
    assert statuses(konektor, GOOD) == {"accepted": len(changes)}
    attempts = konektor.execute("SELECT DISTINCT attempts FROM sync_logs WHERE pixel_id = %s", (GOOD,))
    assert attempts == [(fault.get("times", 1) + 1,)]
    assert meta.stats()["duplicates"] == 0


def test_retries_are_capped_and_end_as_failed_with_the_reason(engine, konektor, meta, two_pixels, emulator):
    leads_with_changes(konektor, two_pixels, 5)
    meta.add_faults([{"kind": "transient", "code": 2, "pixel_id": GOOD}])  # never heals
    client = GraphApiClient(GraphApiConfig(base_url=emulator.base_url,
                                           backoff=Backoff(base=0.01, cap=0.02, max_retries=3)))  # fmt: skip
    sync_once(engine, client)
    rows = konektor.execute("SELECT status, attempts, error_code FROM sync_logs WHERE pixel_id = %s", (GOOD,))
    assert {tuple(r) for r in rows} == {("failed", 4, 2)}
    assert statuses(konektor, BAD) == {"accepted": 5}


def test_a_slow_answer_past_the_timeout_is_retried_and_meta_deduplicates(engine, konektor, meta, two_pixels,
                                                                         emulator):  # fmt: skip
    changes = leads_with_changes(konektor, two_pixels, 10)
    meta.add_faults([{"kind": "slow", "seconds": 1.5, "times": 1, "pixel_id": GOOD}])
    client = GraphApiClient(GraphApiConfig(base_url=emulator.base_url, read_timeout=0.5,
                                           backoff=Backoff(base=0.01, cap=0.02)))  # fmt: skip
    sync_once(engine, client)
    assert statuses(konektor, GOOD) == {"accepted": len(changes)}
    # The timed-out request is still being served; let it land before the next test resets the
    # emulator, or its events would count against that test (event ids restart in every database).
    deadline = time.monotonic() + 10
    while meta.stats()["per_pixel"].get(GOOD, {}).get("requests", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert meta.stats()["per_pixel"][GOOD]["duplicates"] == len(changes)


def test_one_bad_event_is_isolated_by_bisecting_and_its_neighbours_go_through(engine, client, konektor, meta,
                                                                              two_pixels):  # fmt: skip
    changes = leads_with_changes(konektor, two_pixels, 1000)
    bad_event = f"konektor-lsc-{changes[617]}"
    meta.add_faults([{"kind": "reject_event", "event_id": bad_event, "pixel_id": GOOD}])
    sync_once(engine, client)
    rows = {r["event_id"]: r for r in konektor.sync_logs() if r["pixel_id"] == GOOD}
    assert rows[bad_event]["status"] == "failed" and rows[bad_event]["error_code"] == 100
    assert sum(r["status"] == "accepted" for r in rows.values()) == 999
    requests = meta.stats()["per_pixel"][GOOD]["requests"]
    # about 2*log2(n) extra requests (one more level where halves are uneven), not one per event
    assert requests <= 1 + 2 * (math.ceil(math.log2(1000)) + 1)


def test_lost_answer_resends_only_that_batch_with_the_same_event_ids(
    engine, client, konektor, meta, two_pixels
):
    # full batches only: whichever of them goes second (they overlap), its answer is lost
    changes = leads_with_changes(konektor, two_pixels, 3000)
    meta.add_faults([{"kind": "drop_after_accept", "times": 1, "skip": 1, "pixel_id": GOOD}])
    sync_once(engine, client)
    assert statuses(konektor, GOOD) == {"accepted": len(changes)}
    stats = meta.stats()["per_pixel"][GOOD]
    assert stats["accepted_distinct"] == 3000
    assert stats["duplicates"] == 1000  # exactly the batch whose answer was lost, resent once


def test_partial_answers_are_recorded_as_partial_failure_with_metas_messages(engine, client, konektor, meta,
                                                                             two_pixels):  # fmt: skip
    leads_with_changes(konektor, two_pixels, 3)
    meta.add_faults(
        [{"kind": "partial", "messages": ["Some user_data fields were malformed"], "pixel_id": GOOD}]
    )
    sync_once(engine, client)
    rows = [r for r in konektor.sync_logs() if r["pixel_id"] == GOOD]
    assert {r["status"] for r in rows} == {"partial_failure"}
    assert all("malformed" in r["reason"] and "took 2 of 3" in r["reason"] for r in rows)


class Crash(RuntimeError):
    pass


def test_crash_after_meta_answered_but_before_recording_resends_only_the_unrecorded_batches(
    engine, client, konektor, meta, two_pixels, monkeypatch
):
    changes = leads_with_changes(konektor, two_pixels, 3000)
    mapping = EventMapping()
    run = open_run(engine, "crashy", mode="hourly", window_end=now())
    groups = plan_groups(engine, run, mapping)
    original = OutcomeRecorder.record
    calls = {"n": 0}

    def dying_record(self, outcomes):
        calls["n"] += 1
        if calls["n"] == 2:  # the second answer: Meta took it, the process dies before the write
            raise Crash("killed")
        return original(self, outcomes)

    monkeypatch.setattr(OutcomeRecorder, "record", dying_record)
    with pytest.raises(Crash):  # delivering in this process, so that the patched recorder is the one used
        sync_group(engine, client, run, groups[0], mapping, delivery="thread")
    monkeypatch.setattr(OutcomeRecorder, "record", original)
    recorded = dict(konektor.execute("SELECT pixel_id, count(*) FROM sync_logs GROUP BY 1"))
    assert sum(recorded.values()) == 1000  # the first answer was durable, whichever pixel it was
    sent = {pixel: meta.stats()["per_pixel"][pixel]["accepted_distinct"] for pixel in (GOOD, BAD)}
    lost = {pixel: sent[pixel] - recorded.get(pixel, 0) for pixel in sent}
    # at least the answer the recorder died on, at most the batches in flight (8 by default)
    assert 1000 <= sum(lost.values()) <= client.config.max_in_flight * 1000

    sync_once(engine, client, "crashy")  # the operator clears the task: the same run again
    for pixel in (GOOD, BAD):
        assert statuses(konektor, pixel) == {"accepted": len(changes)}
        stats = meta.stats()["per_pixel"][pixel]
        assert stats["accepted_distinct"] == 3000
        # what was recorded never went again; what Meta took unrecorded went again, once
        assert stats["duplicates"] == lost[pixel]


def test_with_one_request_in_flight_a_crash_loses_only_the_answer_being_recorded(
    engine, konektor, meta, two_pixels, emulator, monkeypatch
):
    changes = leads_with_changes(konektor, two_pixels, 3000)
    one = GraphApiClient(GraphApiConfig(base_url=emulator.base_url, max_in_flight=1))
    mapping = EventMapping()
    run = open_run(engine, "crashy-1", mode="hourly", window_end=now())
    groups = plan_groups(engine, run, mapping)
    original = OutcomeRecorder.record
    taken = {"n": 0}

    def dying_record(self, outcomes):
        taken["n"] += 1
        if taken["n"] == 2:
            raise Crash("killed")
        return original(self, outcomes)

    monkeypatch.setattr(OutcomeRecorder, "record", dying_record)
    with pytest.raises(Crash):
        sync_group(engine, one, run, groups[0], mapping, delivery="thread")
    monkeypatch.setattr(OutcomeRecorder, "record", original)
    # one batch in flight at a time, taken on only once the previous answer was committed
    assert meta.stats()["accepted_distinct"] == 2000
    assert statuses(konektor, GOOD) == {"accepted": 1000}
    sync_once(engine, one, "crashy-1")
    assert statuses(konektor, GOOD) == statuses(konektor, BAD) == {"accepted": len(changes)}
    assert meta.stats()["duplicates"] == 1000  # only the batch whose outcome was lost went again


def test_crash_during_extract_leaves_nothing_half_done_and_the_rerun_finishes(
    engine, client, konektor, meta, two_pixels, monkeypatch
):
    changes = leads_with_changes(konektor, two_pixels, 120)
    import konektor_capi.pipeline as pipeline

    def broken_pages(*args, **kwargs):
        raise Crash("database went away")
        yield  # pragma: no cover

    monkeypatch.setattr(pipeline, "iter_changes", broken_pages)
    with pytest.raises(Crash):
        sync_once(engine, client, "run-x")
    assert konektor.sync_logs() == []
    assert konektor.execute("SELECT count(*) FROM sync_watermark") == [(0,)]
    monkeypatch.undo()
    sync_once(engine, client, "run-x")
    assert statuses(konektor, GOOD) == statuses(konektor, BAD) == {"accepted": len(changes)}


def test_watermark_stays_put_while_any_pair_of_the_window_lacks_an_outcome(
    engine, client, konektor, meta, two_pixels, monkeypatch
):
    from konektor_capi.pipeline import IncompleteRun, finish_run

    # BAD's answer comes late: GOOD's batch is recorded before the task dies on BAD's
    meta.add_faults([{"kind": "slow", "seconds": 0.5, "pixel_id": BAD}])
    leads_with_changes(konektor, two_pixels, 50)
    mapping = EventMapping()
    run = open_run(engine, "partial-run", mode="hourly", window_end=now())
    original = OutcomeRecorder.record

    def dies_on_bad(self, outcomes):
        if set(outcomes.events["pixel_id"]) == {BAD}:
            raise Crash("killed")
        return original(self, outcomes)

    monkeypatch.setattr(OutcomeRecorder, "record", dies_on_bad)
    (group,) = plan_groups(engine, run, mapping)
    with pytest.raises(Crash):
        sync_group(engine, client, run, group, mapping, delivery="thread")
    monkeypatch.setattr(OutcomeRecorder, "record", original)
    assert statuses(konektor, GOOD) == {"accepted": 50}
    # the task died before it recorded the BAD pixel's batch: finish must refuse to move on
    with pytest.raises(IncompleteRun, match="50 of 100"):
        finish_run(engine, run, mapping)
    assert konektor.execute("SELECT count(*) FROM sync_watermark") == [(0,)]
    sync_once(engine, client, "partial-run")  # the rerun completes the window
    assert konektor.execute("SELECT watermark FROM sync_watermark") == [(run.window_end,)]


def test_delivery_from_a_child_process_gives_the_same_outcomes(engine, client, konektor, meta, two_pixels):
    changes = leads_with_changes(konektor, two_pixels, 2500)
    mapping = EventMapping()
    run = open_run(engine, "child", mode="hourly", window_end=now())
    (group,) = plan_groups(engine, run, mapping)
    result = sync_group(engine, client, run, group, mapping, delivery="process")
    assert statuses(konektor, GOOD) == statuses(konektor, BAD) == {"accepted": len(changes)}
    assert result.requests == 6  # 2500 per pixel: 1000 + 1000 + 500, remainders carried, none split
    assert result.delivery_seconds["http"] > 0 and result.delivery_seconds["record"] > 0
    assert meta.stats()["duplicates"] == 0


def test_a_failure_in_the_delivery_process_is_raised_without_the_token(engine, client, konektor, meta,
                                                                      two_pixels):  # fmt: skip
    from konektor_capi.delivery import DeliveryFailed

    leads_with_changes(konektor, two_pixels, 1500)
    mapping = EventMapping()
    run = open_run(engine, "child-dies", mode="hourly", window_end=now())
    (group,) = plan_groups(engine, run, mapping)
    # sync_logs loses a column the recorder writes: every COPY fails inside the child
    konektor.execute("ALTER TABLE sync_logs RENAME COLUMN fbtrace_id TO trace")
    with pytest.raises(DeliveryFailed) as raised:
        sync_group(engine, client, run, group, mapping, delivery="process")
    assert "fbtrace_id" in str(raised.value)
    assert "tok-good" not in str(raised.value) and "tok-bad" not in str(raised.value)
    konektor.execute("ALTER TABLE sync_logs RENAME COLUMN trace TO fbtrace_id")
    assert konektor.sync_logs() == []
    sync_once(engine, client, "child-dies")  # the rerun sends it all; Meta deduplicates what went
    assert statuses(konektor, GOOD) == statuses(konektor, BAD) == {"accepted": 1500}


def test_a_failure_while_preparing_stops_the_delivery_process(engine, client, konektor, meta, two_pixels,
                                                             monkeypatch):  # fmt: skip
    import konektor_capi.prepare as prepare

    leads_with_changes(konektor, two_pixels, 300)
    mapping = EventMapping()
    run = open_run(engine, "prep-dies", mode="hourly", window_end=now())
    (group,) = plan_groups(engine, run, mapping)

    def broken(*args, **kwargs):
        raise Crash("validation blew up")

    monkeypatch.setattr(prepare, "validate_events", broken)
    with pytest.raises(Crash):
        sync_group(engine, client, run, group, mapping, delivery="process")
    assert konektor.sync_logs() == []
    assert meta.stats()["requests"] == 0
