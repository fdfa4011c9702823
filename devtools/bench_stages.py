"""The benchmark's in-process run: the stages of `pipeline.sync_group`, called one by one and timed.

`staged_sync_group` mirrors `konektor_capi.pipeline.sync_group` step for step (same functions, same
order, same page size) with a timer around each stage, so the figures say where a real run spends
its time. Keep it in step with `sync_group` when that changes; `run_staged` checks the result the
same way a real run does (`finish_run` raises when a (change, pixel) pair has no outcome).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from konektor_capi import pipeline, validation
from konektor_capi.events import build_events
from konektor_capi.extract import iter_changes
from konektor_capi.graph_client import GraphApiClient, SendResult
from konektor_capi.mapping import EventMapping
from konektor_capi.outcomes import SKIPPED, outcome_frame
from konektor_capi.recording import OutcomeRecorder
from konektor_capi.runs import HOURLY, RunSpec, open_run
from konektor_capi.sender import PixelSender
from konektor_capi.user_data import build_user_data
from konektor_capi.validation import validate_events
from konektor_capi.waba import resolve_waba, session_waba_lookup

# The stages in pipeline order. Parts reported inside them: "http" (of send) is the wait for the
# Graph API, "gx_setup" (of validate) the one-off build of the Great Expectations objects per process.
STAGES = ("extract", "normalise", "validate", "build", "send", "record")
PARTS = {"http": "send", "gx_setup": "validate"}
OVERHEAD = ("plan", "finish")


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


@dataclass
class StagedRun:
    run: RunSpec
    timer: StageTimer
    summary: dict
    groups: int
    requests: int
    wall_seconds: float
    outcomes: dict[str, int] = field(default_factory=dict)


def staged_sync_group(
    engine: sa.Engine,
    client: GraphApiClient,
    run: RunSpec,
    group: pipeline.Group,
    mapping: EventMapping,
    timer: StageTimer,
    *,
    now: Callable[[], float] = time.time,
    page_size: int = 50_000,
) -> int:
    """`pipeline.sync_group` (non-dry-run path) with a timer per stage; returns the requests made."""
    with timer.stage("plan"):
        target = pipeline._pixel_target(engine, group.pixel_id, run)
        query = pipeline._query(run, mapping, [group.pixel_id], ctwa_only=group.waba_id is not None)
    lookup: pd.DataFrame | None = None
    with timer.stage("record"):
        recorder = OutcomeRecorder(engine)  # opens the connection and its staging table

    def record(outcomes: pd.DataFrame) -> None:
        with timer.stage("record", len(outcomes)):
            recorder.record(outcomes)

    timed_client = TimedClient(client, timer)
    sender = PixelSender(timed_client, target, record, run.run_id) if target else None  # type: ignore[arg-type]
    try:
        pages = iter_changes(engine, query, page_size=page_size)
        while True:
            with timer.stage("extract"):
                page = next(pages, None)
            if page is None:
                break
            timer.count("extract", len(page))
            with timer.stage("build"):
                if lookup is None:
                    lookup = session_waba_lookup(
                        pipeline._sessions(engine, sorted({int(w) for w in page["workspace_id"]}))
                    )
                waba = resolve_waba(page["workspace_id"], page["agent_phone"], page["default_country"],
                                    page["pixel_waba_id"], lookup)  # fmt: skip
            with timer.stage("normalise", len(page)):
                user_data = build_user_data(page)
            with timer.stage("build", len(page)):
                events = build_events(page, user_data, waba, mapping)
                del page, user_data
                mine = events["waba_id"].fillna("") == (group.waba_id or "")
                events = events[mine.to_numpy()]
            if events.empty:
                continue
            if target is None or not target.access_token:
                reason = pipeline.PIXEL_GONE if target is None else pipeline.NO_TOKEN
                with timer.stage("record"):
                    record(outcome_frame(events, status=SKIPPED, reason=reason, run_id=run.run_id))
                continue
            with timer.stage("validate", len(events)):
                verdict = validate_events(events, now=int(now()))
                bad = verdict.reasons.notna().to_numpy()
                skipped, ready = events[bad], events[~bad]
            if not skipped.empty:
                with timer.stage("record"):
                    reasons = verdict.reasons[bad]
                    record(outcome_frame(skipped, status=SKIPPED, reason=reasons, run_id=run.run_id))
            with timer.stage("send", len(ready)):
                timer.count("http", len(ready))
                sender.send_all(ready)
    finally:
        with timer.stage("record"):
            recorder.close()
    return sender.requests if sender is not None else 0


def run_staged(
    engine: sa.Engine,
    client: GraphApiClient,
    mapping: EventMapping | None = None,
    *,
    run_id: str | None = None,
    window_end: datetime | None = None,
    page_size: int = 50_000,
) -> StagedRun:
    """One hourly run (open, plan, every group, finish) with per-stage timing."""
    mapping = mapping or EventMapping()
    timer = StageTimer()
    started = time.perf_counter()
    with timer.stage("plan"):
        run = open_run(engine, run_id or f"bench-{time.time_ns()}", mode=HOURLY,
                       window_end=window_end or datetime.now(UTC))  # fmt: skip
        groups = pipeline.plan_groups(engine, run, mapping)
    with timer.stage("validate"), timer.stage("gx_setup"):
        validation._get_gx()  # built on the first validate_events call of a process
    requests = 0
    for group in groups:
        requests += staged_sync_group(engine, client, run, group, mapping, timer, page_size=page_size)
    with timer.stage("finish"):
        summary = pipeline.finish_run(engine, run, mapping)
    wall = time.perf_counter() - started
    outcomes: dict[str, int] = defaultdict(int)
    for row in summary.get("outcomes", []):
        outcomes[row["status"]] += int(row["n"])
    return StagedRun(run, timer, summary, len(groups), requests, wall, dict(outcomes))
