"""The benchmark's in-process run: the real `pipeline.sync_group`, with a timer around each stage.

`run_staged` runs open_run -> plan_groups -> sync_group per group -> finish_run exactly as the DAG
does, with a `StageTimer` as the runner's stage observer (konektor_capi.stages): the runner reports
each preparing stage it runs (extract, normalise, build, validate, gx_setup). Delivery (HTTP
and recording) runs in a child process and reports its own clock; "idle" is the time it waited for work.

Preparing and delivering overlap, so each stage's figure is busy time, and the stages add up to more
than the wall time. Preparing time no stage claims (encoding events, batching) is "other".
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from konektor_capi import pipeline
from konektor_capi.concurrency import DEFAULT_CONCURRENCY, Concurrency
from konektor_capi.graph_client import GraphApiClient
from konektor_capi.mapping import EventMapping
from konektor_capi.runs import HOURLY, RunSpec, open_run

# The stages in pipeline order. Parts reported inside them: "http" (of send) is the wait for the
# Graph API, "gx_setup" (of validate) the one-off build of the Great Expectations objects per process
# (before its first validation, see validation.set_up).
STAGES = ("extract", "normalise", "validate", "build", "send", "record")
PARTS = {"http": "send", "gx_setup": "validate"}
OVERHEAD = ("other", "idle", "plan", "finish")


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

    def on_stage(self, name: str, seconds: float, rows: int) -> None:
        """A stage the runner ran (stages.StageObserver): charged to itself, not to the stage around it."""
        stack = self._local.__dict__.setdefault("stack", [])
        with self._lock:
            self.seconds[name] += seconds
            self.rows[name] += rows
        if stack:
            stack[-1][1] += seconds

    def count(self, name: str, rows: int) -> None:
        with self._lock:
            self.rows[name] += rows


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
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
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
    for group in groups:
        with timer.stage("other"):
            result = pipeline.sync_group(engine, client, run, group, mapping, observer=timer,
                                         concurrency=concurrency)  # fmt: skip
        requests += result.requests
        peak = max(peak, result.peak_in_flight)
        delivered = result.delivery_seconds
        timer.seconds["http"] += delivered.get("http", 0.0)
        timer.seconds["record"] += delivered.get("record", 0.0)
        timer.seconds["idle"] += delivered.get("idle", 0.0)
        timer.count("record", sum(result.counts.outcomes.values()))
        sent = sum(n for (_, _, status), n in result.counts.outcomes.items() if status != "skipped")
        timer.count("send", sent)
        timer.count("http", sent)
    with timer.stage("finish"):
        summary = pipeline.finish_run(engine, run, mapping)
    wall = time.perf_counter() - started
    outcomes: dict[str, int] = defaultdict(int)
    for row in summary.get("outcomes", []):
        outcomes[row["status"]] += int(row["n"])
    return StagedRun(run, timer, summary, len(groups), requests, wall, dict(outcomes), peak)
