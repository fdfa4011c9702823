"""Runs a generator in a background thread, a bounded number of items ahead of its consumer: how
preparing runs beside delivery when both are in the task's process (concurrency.py).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(items: Generator[T, None, None], depth: int = 8, name: str = "prefetch") -> Iterator[T]:
    """Yields what `items` yields, produced in a thread at most `depth` items ahead.

    An exception in the producer is raised here, in the consumer; when the consumer stops early (an
    exception, or it stops iterating), the producer is stopped and its generator closed.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failed(exc))
        finally:
            items.close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()
