"""The rule of how many requests to Meta are in flight, and the gate that applies it to threads."""

from __future__ import annotations

import threading

import pytest

from konektor_capi.graph_client import SendResult
from konektor_capi.in_flight import AdaptiveLimit, Gate
from konektor_capi.retry_policy import MetaError

pytestmark = pytest.mark.unit


def throttle(limit: AdaptiveLimit, sent_in: int | None = None, retry_after: float | None = None, now=0.0):
    round_ = limit.round if sent_in is None else sent_in
    limit.answered(round_, ok=False, throttled=True, retry_after=retry_after, now=now)


def success(limit: AdaptiveLimit, times: int = 1) -> None:
    for _ in range(times):
        limit.answered(limit.round, ok=True, throttled=False, retry_after=None, now=0.0)


def test_starts_at_the_ceiling_and_halves_on_each_new_throttling_down_to_one():
    limit = AdaptiveLimit(8)
    assert limit.limit == 8
    seen = []
    for _ in range(5):
        throttle(limit)
        seen.append(limit.limit)
    assert seen == [4, 2, 1, 1, 1]


def test_answers_to_requests_sent_before_a_cut_do_not_cut_again():
    limit = AdaptiveLimit(8)
    before = limit.round
    for _ in range(8):  # eight requests out together, all throttled: one overload, one cut
        throttle(limit, sent_in=before)
    assert limit.limit == 4


def test_grows_by_one_after_a_round_of_successes_never_above_the_ceiling():
    limit = AdaptiveLimit(8)
    throttle(limit)
    throttle(limit)
    assert limit.limit == 2
    success(limit, 1)
    assert limit.limit == 2  # one success is not a round
    success(limit, 1)
    assert limit.limit == 3
    success(limit, 3 + 4 + 5 + 6 + 7 + 8 * 5)
    assert limit.limit == 8


def test_a_throttling_breaks_the_run_of_successes():
    limit = AdaptiveLimit(4)
    throttle(limit)  # 2
    success(limit, 1)
    throttle(limit, sent_in=0)  # an old round: no cut, but the run starts again
    success(limit, 1)
    assert limit.limit == 2
    success(limit, 1)
    assert limit.limit == 3


def test_retry_after_pauses_every_new_request_until_it_has_passed():
    limit = AdaptiveLimit(4)
    assert limit.wait(in_flight=0, now=100.0) == 0
    throttle(limit, retry_after=3, now=100.0)
    assert limit.wait(in_flight=0, now=101.0) == pytest.approx(2.0)
    assert limit.wait(in_flight=0, now=103.0) == 0
    # a Retry-After also counts on an answer that is not throttling (a 503), capped at max_pause
    limit.answered(limit.round, ok=False, throttled=False, retry_after=10_000, now=200.0)
    assert limit.wait(in_flight=0, now=200.0) == pytest.approx(limit.max_pause)
    assert limit.limit == 2  # only throttling cuts


def test_a_full_limit_waits_for_an_answer():
    limit = AdaptiveLimit(2)
    assert limit.wait(in_flight=1, now=0) == 0
    assert limit.wait(in_flight=2, now=0) is None


def test_the_ceiling_must_allow_a_request():
    with pytest.raises(ValueError):
        AdaptiveLimit(0)
    assert AdaptiveLimit(3, limit=10).limit == 3


THROTTLED = SendResult(attempts=1, error=MetaError("(#17) User request limit reached", 400, code=17))
OK = SendResult(attempts=1, events_received=1)


def test_the_gate_never_lets_more_requests_through_than_the_limit():
    gate = Gate(AdaptiveLimit(3))
    release = threading.Event()
    inside = []

    def attempt():
        inside.append(gate.in_flight)
        release.wait(5)
        return OK

    threads = [threading.Thread(target=gate.call, args=(attempt,)) for _ in range(6)]
    for t in threads:
        t.start()
    while len(inside) < 3:
        release.wait(0.01)
    assert gate.in_flight == 3  # the other three wait for a slot
    release.set()
    for t in threads:
        t.join(5)
    assert gate.peak == 3 and max(inside) == 3 and len(inside) == 6


def test_the_gate_halves_on_throttling_and_counts_it():
    gate = Gate(AdaptiveLimit(8))
    assert gate.call(lambda: THROTTLED) is THROTTLED
    assert gate.limit.limit == 4 and gate.throttled == 1
    gate.call(lambda: SendResult(attempts=1, error=MetaError("HTTP 429", 429)))
    assert gate.limit.limit == 2 and gate.throttled == 2


def test_a_retry_after_holds_the_next_request_on_the_gates_clock():
    now = [0.0]
    waits = []
    gate = Gate(AdaptiveLimit(2), clock=lambda: now[0])
    original_wait = gate._cond.wait

    def fake_wait(timeout=None):  # the clock moves by what the gate waited
        waits.append(timeout)
        now[0] += timeout
        return original_wait(0)

    gate._cond.wait = fake_wait
    gate.call(lambda: SendResult(attempts=1, error=MetaError("slow down", 400, code=4, retry_after=2.5)))
    gate.call(lambda: OK)
    assert waits == [pytest.approx(2.5)]


def test_a_failing_attempt_frees_its_slot():
    gate = Gate(AdaptiveLimit(1))

    def broken():
        raise OSError("boom")

    with pytest.raises(OSError):
        gate.call(broken)
    assert gate.in_flight == 0 and gate.call(lambda: OK) is OK
