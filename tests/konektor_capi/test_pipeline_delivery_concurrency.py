"""Several requests in flight against the emulator with a round trip: what the emulator saw proves it."""

from __future__ import annotations

import pytest

from konektor_capi.graph_client import GraphApiClient, GraphApiConfig
from konektor_capi.retry_policy import Backoff
from tests.fixtures import sync_once
from tests.konektor_capi.test_pipeline_faults import BAD, GOOD, leads_with_changes, statuses

pytestmark = pytest.mark.integration

ROUND_TRIP_MS = 150


@pytest.fixture
def two_pixels(konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, GOOD, token="tok-good")
    konektor.pixel(ws, BAD, token="tok-bad")
    meta.register_pixels({GOOD: "tok-good", BAD: "tok-bad"})
    return ws


@pytest.fixture
def slow_meta(meta):
    meta.set_config(round_trip_ms=ROUND_TRIP_MS, round_trip_jitter_ms=50)
    yield meta
    meta.reset()  # the round trip must not slow the next test


def client_of(emulator, n: int, **backoff) -> GraphApiClient:
    backoff = {"base": 0.01, "cap": 0.05, **backoff}
    return GraphApiClient(
        GraphApiConfig(base_url=emulator.base_url, max_in_flight=n, backoff=Backoff(**backoff))
    )


def test_batches_of_every_pixel_overlap_up_to_max_in_flight(
    engine, konektor, slow_meta, two_pixels, emulator
):
    changes = leads_with_changes(konektor, two_pixels, 6000)  # 6 batches per pixel
    summary = sync_once(engine, client_of(emulator, 4))
    stats = slow_meta.stats()
    assert 1 < stats["peak_in_flight"] <= 4
    (result,) = summary["groups"]
    assert result.peak_in_flight == stats["peak_in_flight"] and result.throttled == 0
    assert statuses(konektor, GOOD) == statuses(konektor, BAD) == {"accepted": len(changes)}
    assert stats["requests"] == 12 and stats["duplicates"] == 0


def test_one_request_in_flight_sends_one_after_the_other(engine, konektor, slow_meta, two_pixels, emulator):
    leads_with_changes(konektor, two_pixels, 3000)
    sync_once(engine, client_of(emulator, 1))
    assert slow_meta.stats()["peak_in_flight"] == 1
    assert statuses(konektor, GOOD) == {"accepted": 3000}


def test_throttling_halves_the_requests_in_flight_each_round(
    engine, konektor, slow_meta, two_pixels, emulator
):
    leads_with_changes(konektor, two_pixels, 4000)
    slow_meta.add_faults([{"kind": "throttle", "code": 17, "pixel_id": GOOD}])  # never heals
    summary = sync_once(engine, client_of(emulator, 8, max_retries=2))
    (result,) = summary["groups"]
    # 4 batches x 3 attempts, all throttled: 8 -> 4 -> 2 -> 1, one cut per round of attempts
    assert result.throttled == slow_meta.stats()["per_pixel"][GOOD]["requests"] == 12
    assert result.lowest_limit == 1
    rows = konektor.execute("SELECT DISTINCT status, attempts, error_code FROM sync_logs WHERE pixel_id = %s",
                            (GOOD,))  # fmt: skip
    assert rows == [("failed", 3, 17)]
    assert statuses(konektor, BAD) == {"accepted": 4000}


def test_throttling_that_heals_ends_with_everything_accepted(
    engine, konektor, slow_meta, two_pixels, emulator
):
    leads_with_changes(konektor, two_pixels, 5000)
    slow_meta.add_faults([{"kind": "throttle", "code": 80004, "times": 4, "retry_after": 0.2}])
    summary = sync_once(engine, client_of(emulator, 8))
    (result,) = summary["groups"]
    assert result.throttled == 4 and result.lowest_limit < 8
    assert statuses(konektor, GOOD) == statuses(konektor, BAD) == {"accepted": 5000}
    assert slow_meta.stats()["duplicates"] == 0 and slow_meta.stats()["requests"] == 10 + 4


@pytest.mark.parametrize("fault", [{"kind": "token_expired"}, {"kind": "permission"}])
def test_a_refused_pixel_stops_its_queued_batches_while_others_go_on(engine, konektor, slow_meta, two_pixels,
                                                                     emulator, fault):  # fmt: skip
    leads_with_changes(konektor, two_pixels, 5000)
    slow_meta.add_faults([{**fault, "pixel_id": BAD}])
    sync_once(engine, client_of(emulator, 8))
    stats = slow_meta.stats()
    assert stats["per_pixel"][BAD]["requests"] == 1  # its first batch goes alone: the others never go
    assert statuses(konektor, BAD) == {"failed": 5000}
    unsent = konektor.execute("SELECT count(*) FROM sync_logs WHERE pixel_id = %s AND attempts = 0", (BAD,))
    assert unsent == [(4000,)]
    assert statuses(konektor, GOOD) == {"accepted": 5000} and stats["peak_in_flight"] > 1


def test_bisection_isolates_a_bad_event_while_other_batches_are_in_flight(engine, konektor, slow_meta,
                                                                          two_pixels, emulator):  # fmt: skip
    changes = leads_with_changes(konektor, two_pixels, 4000)
    bad_event = f"konektor-lsc-{changes[2345]}"
    slow_meta.add_faults([{"kind": "reject_event", "event_id": bad_event, "pixel_id": GOOD}])
    sync_once(engine, client_of(emulator, 8))
    rows = {r["event_id"]: r for r in konektor.sync_logs() if r["pixel_id"] == GOOD}
    assert rows[bad_event]["status"] == "failed" and rows[bad_event]["error_code"] == 100
    assert sum(r["status"] == "accepted" for r in rows.values()) == 3999
    assert statuses(konektor, BAD) == {"accepted": 4000}
    assert slow_meta.stats()["peak_in_flight"] > 1 and slow_meta.stats()["duplicates"] == 0
