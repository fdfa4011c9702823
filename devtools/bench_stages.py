"""The benchmark's in-process run: the real `pipeline.sync_group`, with a timer around each stage.

Rather than a copy of `sync_group` that could drift from it, `instrumented()` swaps the stage
functions `konektor_capi.pipeline` calls (iter_changes, build_user_data, resolve_waba, build_events,
validate_events, OutcomeRecorder, PixelSender, ...) for timed wrappers, in this process only and only
for the duration of the block, and `run_staged` then runs open_run -> plan_groups -> sync_group per
group -> finish_run exactly as the DAG does. Time inside sync_group that no stage claims (the WABA
filter, the pixel's settings, storing the group result) is reported as "other".
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from konektor_capi import pipeline, validation
from konektor_capi.graph_client import GraphApiClient, SendResult
from konektor_capi.mapping import EventMapping
from konektor_capi.runs import HOURLY, RunSpec, open_run

# The stages in pipeline order. Parts reported inside them: "http" (of send) is the wait for the
# Graph API, "gx_setup" (of validate) the one-off build of the Great Expectations objects per process.
STAGES = ("extract", "normalise", "validate", "build", "send", "record")
PARTS = {"http": "send", "gx_setup": "validate"}
OVERHEAD = ("other", "plan", "finish")
# Functions of konektor_capi.pipeline charged to a stage: name -> (stage, count the first argument's rows)
_TIMED_FUNCTIONS = {
    "build_user_data": ("normalise", True),
    "_sessions": ("build", False),
    "session_waba_lookup": ("build", False),
    "resolve_waba": ("build", False),
    "build_events": ("build", True),
    "validate_events": ("validate", True),
    "outcome_frame": ("record", False),
}


class StageTimer:
    """Exclusive wall time per stage: a stage nested in another is charged to itself only."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)
        self._stack: list[list] = []

    @contextmanager
    def stage(self, name: str, rows: int = 0) -> Iterator[None]:
        start = time.perf_counter()
        self._stack.append([name, 0.0])
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            _, nested = self._stack.pop()
            self.seconds[name] += elapsed - nested
            self.rows[name] += rows
            if self._stack:
                self._stack[-1][1] += elapsed

    def count(self, name: str, rows: int) -> None:
        self.rows[name] += rows


class TimedClient:
    """The Graph API client with the HTTP round trips (retries included) charged to "http"."""

    def __init__(self, client: GraphApiClient, timer: StageTimer) -> None:
        self._client = client
        self._timer = timer

    def send(self, pixel_id: str, body: bytes) -> SendResult:
        with self._timer.stage("http"):
            return self._client.send(pixel_id, body)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _timed(timer: StageTimer, stage: str, count_rows: bool, func: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        rows = len(args[0]) if count_rows and args else 0
        with timer.stage(stage, rows):
            return func(*args, **kwargs)

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
    """Times the stages `pipeline.sync_group` calls, by swapping them in the pipeline module."""
    recorder_class = pipeline.OutcomeRecorder
    sender_class = pipeline.PixelSender

    class TimedRecorder(recorder_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            with timer.stage("record"):
                super().__init__(*args, **kwargs)

        def record(self, outcomes) -> None:
            with timer.stage("record", len(outcomes)):
                super().record(outcomes)

        def close(self) -> None:
            with timer.stage("record"):
                super().close()

    class TimedSender(sender_class):  # type: ignore[misc, valid-type]
        def send_all(self, events) -> None:
            timer.count("http", len(events))
            with timer.stage("send", len(events)):
                super().send_all(events)

    patches: dict[str, Any] = {
        name: _timed(timer, stage, count_rows, getattr(pipeline, name))
        for name, (stage, count_rows) in _TIMED_FUNCTIONS.items()
    }
    patches["iter_changes"] = _timed_pages(timer, pipeline.iter_changes)
    patches["OutcomeRecorder"] = TimedRecorder
    patches["PixelSender"] = TimedSender
    originals = {name: getattr(pipeline, name) for name in patches}  # AttributeError: sync_group changed
    try:
        for name, value in patches.items():
            setattr(pipeline, name, value)
        yield
    finally:
        for name, value in originals.items():
            setattr(pipeline, name, value)


@dataclass
class StagedRun:
    run: RunSpec
    timer: StageTimer
    summary: dict
    groups: int
    requests: int
    wall_seconds: float
    outcomes: dict[str, int] = field(default_factory=dict)


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
    timed_client = TimedClient(client, timer)
    started = time.perf_counter()
    with timer.stage("plan"):
        run = open_run(engine, run_id or f"bench-{time.time_ns()}", mode=HOURLY,
                       window_end=window_end or datetime.now(UTC))  # fmt: skip
        groups = pipeline.plan_groups(engine, run, mapping)
    with timer.stage("validate"), timer.stage("gx_setup"):
        validation._get_gx()  # otherwise built inside the first validate_events call of the process
    requests = 0
    with instrumented(timer):
        for group in groups:
            with timer.stage("other"):
                result = pipeline.sync_group(engine, timed_client, run, group, mapping)  # type: ignore[arg-type]
            requests += result.requests
    with timer.stage("finish"):
        summary = pipeline.finish_run(engine, run, mapping)
    wall = time.perf_counter() - started
    outcomes: dict[str, int] = defaultdict(int)
    for row in summary.get("outcomes", []):
        outcomes[row["status"]] += int(row["n"])
    return StagedRun(run, timer, summary, len(groups), requests, wall, dict(outcomes))
