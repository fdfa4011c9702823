"""The benchmark's in-process run: the real `pipeline.sync_group`, with a timer around each stage.

Rather than a copy of `sync_group` that could drift from it, `instrumented()` swaps the preparing
stages `konektor_capi.pipeline` calls (iter_changes, build_user_data, session_wabas, build_events,
events_per_pixel, validate_events, with_copy_keys) for timed wrappers, in this process only and only
for the duration of the block, and `run_staged` then runs open_run -> plan_groups -> sync_group per
group -> finish_run exactly as the DAG does. Delivery (HTTP and recording) runs in a child process
and reports its own clock; "idle" is the time it waited for work.

Preparing and delivering overlap, so each stage's figure is busy time, and the stages add up to more
than the wall time. Preparing time no stage claims (encoding events, batching) is "other".
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from konektor_capi import pipeline, prepare, validation
from konektor_capi.graph_client import GraphApiClient
from konektor_capi.mapping import EventMapping
from konektor_capi.runs import HOURLY, RunSpec, open_run

# The stages in pipeline order. Parts reported inside them: "http" (of send) is the wait for the
# Graph API, "gx_setup" (of validate) the one-off build of the Great Expectations objects per process
# (in the background while the first page is extracted, see validation.warm_up).
STAGES = ("extract", "normalise", "validate", "build", "send", "record")
PARTS = {"http": "send", "gx_setup": "validate"}
OVERHEAD = ("other", "idle", "plan", "finish")
# Functions of konektor_capi.pipeline charged to a stage: name -> (stage, whose rows count: the first
# argument's, the result's, or none). Normalising counts changes; the rest count (change, pixel) events.
_TIMED_FUNCTIONS = {
    "build_user_data": ("normalise", "argument"),
    "_sessions": ("build", None),
    "session_waba_lookup": ("build", None),
    "session_wabas": ("build", None),
    "build_events": ("build", None),
    "events_per_pixel": ("build", "result"),
    "validate_events": ("validate", "argument"),
    "with_copy_keys": ("record", None),
}


class StageTimer:
    """Exclusive time per stage and thread: a stage nested in another is charged to itself only."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)
        self._local = threading.local()
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str, rows: int = 0) -> Iterator[None]:
        stack = self._local.__dict__.setdefault("stack", [])
        start = time.perf_counter()
        stack.append([name, 0.0])
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            _, nested = stack.pop()
            with self._lock:
                self.seconds[name] += elapsed - nested
                self.rows[name] += rows
            if stack:
                stack[-1][1] += elapsed

    def count(self, name: str, rows: int) -> None:
        with self._lock:
            self.rows[name] += rows


def _timed(timer: StageTimer, stage: str, rows_of: str | None, func: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        with timer.stage(stage, len(args[0]) if rows_of == "argument" else 0):
            out = func(*args, **kwargs)
        if rows_of == "result":
            timer.count(stage, len(out))
        return out

    return wrapper


def _timed_pages(timer: StageTimer, iter_changes: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        pages = iter_changes(*args, **kwargs)
        while True:
            with timer.stage("extract"):
                page = next(pages, None)
            if page is None:
                return
            timer.count("extract", len(page))
            yield page

    return wrapper


@contextmanager
def instrumented(timer: StageTimer) -> Iterator[None]:
    """Times the preparing stages `pipeline.sync_group` calls, by swapping them in the pipeline module.

    Delivery (send, record) may run in a child process: its own clock comes back in each group's
    result (`delivery_seconds`) and `run_staged` adds it.
    """
    # Each name is swapped in the module that calls it: the runner (pipeline) or prepare_page (prepare).
    modules = {name: pipeline if hasattr(pipeline, name) else prepare for name in _TIMED_FUNCTIONS}
    patches: dict[tuple, Any] = {
        (modules[name], name): _timed(timer, stage, rows_of, getattr(modules[name], name))
        for name, (stage, rows_of) in _TIMED_FUNCTIONS.items()
    }
    patches[(pipeline, "iter_changes")] = _timed_pages(timer, pipeline.iter_changes)
    # AttributeError: sync_group changed
    originals = {(module, name): getattr(module, name) for module, name in patches}
    # GX's one-off set-up, in whichever thread builds it (sync_group warms it up in the background).
    build_gx = validation._build_gx
    try:
        for (module, name), value in patches.items():
            setattr(module, name, value)
        validation._build_gx = _timed(timer, "gx_setup", None, build_gx)
        yield
    finally:
        for (module, name), value in originals.items():
            setattr(module, name, value)
        validation._build_gx = build_gx


@dataclass
class StagedRun:
    run: RunSpec
    timer: StageTimer
    summary: dict
    groups: int
    requests: int
    wall_seconds: float
    outcomes: dict[str, int] = field(default_factory=dict)
    peak_in_flight: int = 0  # the most requests a group had out at once


def run_staged(
    engine: sa.Engine,
    client: GraphApiClient,
    mapping: EventMapping | None = None,
    *,
    run_id: str | None = None,
    window_end: datetime | None = None,
) -> StagedRun:
    """One hourly run (open, plan, every group, finish) through the pipeline's own functions, timed."""
    mapping = mapping or EventMapping()
    timer = StageTimer()
    started = time.perf_counter()
    with timer.stage("plan"):
        run = open_run(engine, run_id or f"bench-{time.time_ns()}", mode=HOURLY,
                       window_end=window_end or datetime.now(UTC))  # fmt: skip
        groups = pipeline.plan_groups(engine, run, mapping)
    requests = peak = 0
    with instrumented(timer):
        for group in groups:
            with timer.stage("other"):
                result = pipeline.sync_group(engine, client, run, group, mapping)
            requests += result.requests
            peak = max(peak, result.peak_in_flight)
            delivered = result.delivery_seconds
            timer.seconds["http"] += delivered.get("http", 0.0)
            timer.seconds["record"] += delivered.get("record", 0.0)
            timer.seconds["idle"] += delivered.get("idle", 0.0)
            timer.count("record", sum(result.counts.values()))
            sent = sum(n for (_, _, status), n in result.counts.items() if status != "skipped")
            timer.count("send", sent)
            timer.count("http", sent)
    with timer.stage("finish"):
        summary = pipeline.finish_run(engine, run, mapping)
    wall = time.perf_counter() - started
    outcomes: dict[str, int] = defaultdict(int)
    for row in summary.get("outcomes", []):
        outcomes[row["status"]] += int(row["n"])
    return StagedRun(run, timer, summary, len(groups), requests, wall, dict(outcomes), peak)
