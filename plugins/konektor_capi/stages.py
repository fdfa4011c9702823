"""The hook through which the runner reports how long each stage took, and over how many rows.

The stages are "extract", "normalise", "build", "validate" and "gx_setup" (Great Expectations'
one-off set-up); delivery (HTTP and recording) reports its own clock in the group's result. The
benchmark listens; a task does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class StageObserver(Protocol):
    def on_stage(self, name: str, seconds: float, rows: int) -> None:
        """Called once per stage run, from the thread that ran it, right after it ends."""


class Unobserved:
    def on_stage(self, name: str, seconds: float, rows: int) -> None:
        pass


UNOBSERVED = Unobserved()


def observed(
    observer: StageObserver, name: str, rows: int | Callable[[T], int], func: Callable[..., T], *args
) -> T:
    """`func(*args)`, reported to `observer` as stage `name` over `rows` (or `rows(result)`) rows."""
    start = time.perf_counter()
    out = func(*args)
    observer.on_stage(name, time.perf_counter() - start, rows if isinstance(rows, int) else rows(out))
    return out
