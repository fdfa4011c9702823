"""The background producer: same items in order, its errors raised in the consumer, stopped early."""

from __future__ import annotations

import threading

import pytest

from konektor_capi.prefetch import prefetch

pytestmark = pytest.mark.unit


def test_yields_every_item_in_order_from_another_thread():
    threads = set()

    def items():
        for i in range(50):
            threads.add(threading.current_thread().name)
            yield i

    assert list(prefetch(items(), depth=3, name="producer")) == list(range(50))
    assert threads == {"producer"}


def test_a_producer_error_is_raised_in_the_consumer_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ValueError("extract failed")

    got = []
    with pytest.raises(ValueError, match="extract failed"):
        for item in prefetch(items()):
            got.append(item)
    assert got == [1, 2]


def test_a_consumer_error_stops_the_producer_and_closes_its_generator():
    closed = threading.Event()
    produced = []

    def items():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    with pytest.raises(RuntimeError):
        for item in prefetch(items(), depth=2):
            if item == 3:
                raise RuntimeError("send failed")
    assert closed.is_set()
    assert len(produced) < 10  # at most `depth` items ahead, not the whole stream
