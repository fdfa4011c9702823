"""The scheduling of batches over worker threads, with stand-in senders (no HTTP, no database)."""

from __future__ import annotations

import time

import pytest

from konektor_capi.concurrent_sender import ConcurrentSender

pytestmark = pytest.mark.unit


class Sender:
    """Stands in for a PixelSender: holds each batch until released, records it, may be refused."""

    def __init__(self, name: str, log: list, refuse: bool = False, hold: float = 0.02) -> None:
        self.name, self.log, self.refuse, self.hold = name, log, refuse, hold
        self.pixel_error = None
        self.record = None  # set by the test: the pool's record_answer
        self.running = 0
        self.sent: list = []

    def send_batch(self, batch) -> None:
        if self.pixel_error is not None:
            self.record((self.name, batch, "failed unsent"))
            return
        self.running += 1
        self.log.append(("start", self.name, batch))
        time.sleep(self.hold)
        self.sent.append(batch)
        if self.refuse:
            self.pixel_error = "refused"
        self.running -= 1
        self.record((self.name, batch, "refused" if self.refuse else "accepted"))


def pool_with(*senders, workers: int, record=None):
    recorded: list = []
    pool = ConcurrentSender(record or recorded.append, workers)
    for sender in senders:
        sender.record = pool.record_answer
    return pool, recorded


def test_never_more_batches_at_once_than_workers_and_every_outcome_recorded():
    log: list = []
    senders = [Sender(f"p{i}", log) for i in range(3)]
    peak = {"n": 0}
    pool, recorded = pool_with(*senders, workers=4)
    with pool:
        for batch in range(8):
            for sender in senders:
                pool.send(sender, batch)
                peak["n"] = max(peak["n"], sum(s.running for s in senders))
        pool.finish()
    assert sorted(recorded) == sorted((s.name, b, "accepted") for s in senders for b in range(8))
    assert 1 < peak["n"] <= 4


def test_a_pixels_first_batch_goes_alone_and_a_refusal_stops_the_rest_unsent():
    log: list = []
    bad, good = Sender("bad", log, refuse=True, hold=0.1), Sender("good", log)
    pool, recorded = pool_with(bad, good, workers=8)
    with pool:
        for batch in range(5):
            pool.send(bad, batch)
        for batch in range(5):
            pool.send(good, batch)
        pool.finish()
    assert bad.sent == [0]  # only the first went out
    assert sorted(r for r in recorded if r[0] == "bad") == [("bad", 0, "refused")] + [
        ("bad", b, "failed unsent") for b in range(1, 5)
    ]
    assert sorted(good.sent) == list(range(5))


def test_a_recording_failure_is_raised_and_no_batch_starts_after_it():
    log: list = []
    sender = Sender("p", log)
    calls = {"n": 0}

    def record(outcomes):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("database gone")

    pool, _ = pool_with(sender, workers=1, record=record)
    with pytest.raises(OSError, match="database gone"), pool:
        for batch in range(10):
            pool.send(sender, batch)
        pool.finish()
    # one worker takes its next batch only once the previous answer is committed
    assert sender.sent == [0, 1]


def test_an_error_while_handing_over_leaves_the_unstarted_batches_unsent():
    log: list = []
    sender = Sender("p", log, hold=0.2)
    pool, recorded = pool_with(sender, workers=2)
    with pytest.raises(RuntimeError), pool:
        for batch in range(4):
            pool.send(sender, batch)
        raise RuntimeError("preparing failed")
    # the pixel's first batch (alone, still out) finishes and is recorded; the queued ones never go
    assert sender.sent == [0] and recorded == [("p", 0, "accepted")]
