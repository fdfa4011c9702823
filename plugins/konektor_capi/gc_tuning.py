"""Fewer garbage collections while a group is synced (one of concurrency.Concurrency's choices).

A page makes millions of short-lived containers (event dicts, lists, object arrays); with CPython's
default thresholds they set off thousands of collections, and the full ones walk every tracked object
of the process: Airflow's, Great Expectations', pandas', and each object array's elements. During the
sync the objects that exist before it (the libraries) are frozen out of collection and the thresholds
are raised, so young garbage is still collected, only less often; both are restored after.
Almost everything the pipeline makes is freed by reference counting. The exception is Great
Expectations, which leaves reference cycles (caught exceptions' frames) holding pandas blocks of the
page it validated: `collect_young` after each page frees them while they are young and cheap to find,
instead of letting them pile up in the oldest generation. The figures are in docs/performance.md.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (10_000, 10, 10)


@contextmanager
def fewer_collections(thresholds: tuple[int, int, int] = THRESHOLDS) -> Iterator[None]:
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def collect_young() -> None:
    gc.collect(1)
