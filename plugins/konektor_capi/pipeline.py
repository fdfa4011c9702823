"""The sync's stages as plain functions: plan a run, sync one group of workspaces, finish the run.

The Airflow DAG calls exactly these; so do the tests and the benchmark.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from konektor_capi import sql
from konektor_capi.db import raw_connection
from konektor_capi.delivery import DeliverySetup
from konektor_capi.extract import ExtractQuery, iter_changes
from konektor_capi.fanout import group_pixels
from konektor_capi.gc_tuning import collect_young, fewer_collections
from konektor_capi.graph_client import GraphApiClient
from konektor_capi.mapping import EventMapping
from konektor_capi.prepare import PrepareContext, PreparedPage, prepare_page
from konektor_capi.retry_policy import heals_by_waiting
from konektor_capi.runs import HOURLY, WATERMARK_NAME, RunSpec, retry_since
from konektor_capi.sender import PixelTarget
from konektor_capi.sinks import DeliverySink, DryRunSink, Sink
from konektor_capi.stages import UNOBSERVED, StageObserver, observed
from konektor_capi.tuning import LEASE_WAIT_SECONDS, MAX_GROUPS, PAGE_SIZE
from konektor_capi.validation import warm_up
from konektor_capi.waba import session_waba_lookup

log = logging.getLogger(__name__)

NO_TOKEN = "pixel has no Conversions API access token configured (Settings > Pixel & Tracking)"
PIXEL_GONE = "pixel was disabled or removed before its events were sent"
NOT_NUMERIC = "pixel id is not a numeric Meta dataset id (Settings > Pixel & Tracking)"


class IncompleteRun(RuntimeError):
    """Some (change, pixel) pair of the window has no outcome: the watermark must not move."""


# The advisory-lock class id of our workspace leases (pg_try_advisory_lock(int, int)): "KC".
LEASE_NAMESPACE = 0x4B43


@dataclass(frozen=True)
class Group:
    """Some workspaces whose unfinished pairs one task syncs: every pixel of them, every WABA."""

    workspace_ids: tuple[int, ...]
    pending: int

    @property
    def label(self) -> str:
        ids = [str(w) for w in self.workspace_ids]
        if len(ids) == 1:
            return f"workspace {ids[0]}"
        shown = ", ".join(ids[:3]) + (f" +{len(ids) - 3} more" if len(ids) > 3 else "")
        return f"workspaces {shown}"

    def to_dict(self) -> dict:
        return {"workspace_ids": list(self.workspace_ids), "pending": self.pending, "label": self.label}

    @classmethod
    def from_dict(cls, data: dict) -> Group:
        return cls(tuple(int(w) for w in data["workspace_ids"]), int(data.get("pending", 0)))


@dataclass
class GroupResult:
    group: Group
    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    would_send: Counter = field(default_factory=Counter)
    requests: int = 0
    validation: list[dict] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)  # (pixel id, reason) of failed events
    delivery_seconds: dict[str, float] = field(default_factory=dict)
    peak_in_flight: int = 0  # the most requests to Meta out at once
    throttled: int = 0  # answers that were Meta's throttling
    lowest_limit: int = 0  # the fewest requests in flight the throttling allowed (max_in_flight: none)
    # Workspaces of the group another run held the lease of: left to that run, not synced here.
    leased_elsewhere: list[int] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(n for (_, _, status), n in self.counts.items() if status == "failed")

    @property
    def heals_by_waiting(self) -> bool:
        """Whether retrying the task later could help: only when some failure was transient."""
        return any(heals_by_waiting(reason) for _, reason in self.failures)

    def failure_summary(self) -> str:
        """Per pixel, how many events failed and the commonest reason: what an operator acts on."""
        by_pixel: dict[str, Counter] = {}
        for (pixel, reason), n in self.failures.items():
            by_pixel.setdefault(pixel, Counter())[reason] += n
        return "; ".join(
            f"pixel {pixel}: {sum(reasons.values())} ({reasons.most_common(1)[0][0]})"
            for pixel, reasons in sorted(by_pixel.items())
        )

    def to_dict(self) -> dict:
        return {
            "group": self.group.to_dict(),
            "counts": [[*k, n] for k, n in sorted(self.counts.items(), key=str)],
            "top_reasons": self.reasons.most_common(10),
            "would_send": [[*k, n] for k, n in sorted(self.would_send.items(), key=str)],
            "requests": self.requests,
            "failed": self.failed,
            "delivery_seconds": self.delivery_seconds,
            "peak_in_flight": self.peak_in_flight,
            "throttled": self.throttled,
            "lowest_limit": self.lowest_limit,
            "leased_elsewhere": self.leased_elsewhere,
        }


def _query(
    run: RunSpec, mapping: EventMapping, group: Group | None = None, now: datetime | None = None
) -> ExtractQuery:
    """What the run owes (owed_pairs.sql): the whole run's (plan, finish) or one group's (extract)."""
    return ExtractQuery(
        window_start=run.window_start,
        window_end=run.window_end,
        # Konektor's statuses are matched trimmed and lower-cased ('Won', ' won '), in SQL as in Python.
        statuses=sorted({status.strip().lower() for status in mapping.statuses}),
        pixel_ids=run.pixel_ids,
        workspace_ids=list(group.workspace_ids) if group else None,
        expected_pairs=group.pending if group else 0,
        retry_since=retry_since(run, now or datetime.now(UTC)),
        test_event_code=_text(run.test_event_code) or None,
    )


def _frame(engine: sa.Engine, name: str, params: dict) -> pd.DataFrame:
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(sql.load(name), params)
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


def _sessions(engine: sa.Engine, workspace_ids: list[int]) -> pd.DataFrame:
    return _frame(engine, "whatsapp_sessions", {"workspace_ids": workspace_ids})


def plan_groups(
    engine: sa.Engine, run: RunSpec, mapping: EventMapping, max_groups: int = MAX_GROUPS
) -> list[Group]:
    """The run's tasks: workspaces with unfinished work, packed into at most `max_groups` groups.

    A workspace is never split (its changes are read and hashed once, for all its pixels); the
    largest go first, each to the group with the least work so far, so groups come out about even.
    """
    agg = _frame(engine, "plan_groups", _query(run, mapping).params())
    pending = dict(zip(agg["workspace_id"].astype(int), agg["n"].astype(int), strict=True))
    return pack_workspaces(pending, max_groups)


def pack_workspaces(pending: dict[int, int], max_groups: int) -> list[Group]:
    """Workspaces (id -> unfinished pairs) packed into at most `max_groups` groups of about even work."""
    bins: list[list] = [[0, []] for _ in range(min(max_groups, len(pending)))]
    for workspace, n in sorted(pending.items(), key=lambda item: (-item[1], item[0])):
        emptiest = min(bins, key=lambda b: b[0])
        emptiest[0] += n
        emptiest[1].append(workspace)
    return sorted(
        (Group(tuple(sorted(members)), load) for load, members in bins), key=lambda g: g.workspace_ids
    )


def _targets(pixels: pd.DataFrame, run: RunSpec) -> dict[int, PixelTarget]:
    return {
        int(key): PixelTarget(str(pixel_id), _text(token), _text(run.test_event_code) or _text(code) or None)
        for key, pixel_id, token, code in zip(
            pixels["pixel_key"],
            pixels["pixel_id"],
            pixels["capi_access_token"],
            pixels["test_event_code"],
            strict=True,
        )  # fmt: skip
    }


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""  # NULL arrives as None or NaN


def sync_group(
    engine: sa.Engine,
    client: GraphApiClient,
    run: RunSpec,
    group: Group,
    mapping: EventMapping,
    *,
    now: Callable[[], float] = time.time,
    page_size: int = PAGE_SIZE,
    on_secret: Callable[[str], None] = lambda _secret: None,
    delivery: str = "auto",
    lease_wait: float | None = None,
    observer: StageObserver = UNOBSERVED,
) -> GroupResult:
    """Extract, normalise, validate, build, send and record one group's unfinished events.

    This process prepares the batches; sending them (up to `max_in_flight` requests at once) and
    recording each answer as it arrives happens in a child process (`delivery="process"`, see
    delivery.py) or in this one while a thread prepares (`delivery="thread"`); "auto" takes the child
    process for groups large enough to repay its start-up (about half a second).

    First it takes a lease on each workspace of the group (a PostgreSQL advisory lock, held by a
    connection of its own until the group is done): two runs never send one workspace's events at
    once. A workspace whose lease another run holds for longer than `lease_wait` seconds (default
    LEASE_WAIT_SECONDS) is left to that run and listed in the result's
    `leased_elsewhere`; this run's finish then finds its pairs without an outcome if the holder has not
    recorded them yet. A dry run sends nothing and takes no lease.

    `observer` hears how long each preparing stage took (stages.py); delivery's own clock comes back
    in the result's `delivery_seconds`.
    """
    if run.dry_run:
        with fewer_collections():
            return _sync_group(engine, client, run, group, mapping, now, page_size, on_secret, delivery,
                               GroupResult(group), observer)  # fmt: skip
    with WorkspaceLeases(engine) as leases:
        wait = LEASE_WAIT_SECONDS if lease_wait is None else lease_wait
        elsewhere = leases.take(group.workspace_ids, wait)
        if elsewhere:
            log.warning("workspace(s) %s: another run holds the lease; left to it (its outcomes decide "
                        "this run's completeness)", ", ".join(map(str, elsewhere)))  # fmt: skip
        result = GroupResult(group, leased_elsewhere=elsewhere)
        mine = Group(tuple(w for w in group.workspace_ids if w not in elsewhere), group.pending)
        if not mine.workspace_ids:
            _store_group_result(engine, run, result)
            return result
        # What is owed is read only now, under the lease: it sees what the previous holder recorded.
        with fewer_collections():
            return _sync_group(engine, client, run, mine, mapping, now, page_size, on_secret, delivery,
                               result, observer)  # fmt: skip


class WorkspaceLeases:
    """One lease per workspace: a session advisory lock on a dedicated connection, in autocommit (no
    transaction stays open while the group syncs). Closing the connection releases every lease, and
    so does the end of the session when the process is killed: a lease never outlives its holder."""

    def __init__(self, engine: sa.Engine) -> None:
        self._fairy = engine.raw_connection()
        self._conn = self._fairy.driver_connection
        self._fairy.detach()  # closed for real at the end, never handed back to the pool holding locks
        self._conn.autocommit = True
        self.held: list[int] = []

    def take(self, workspace_ids: tuple[int, ...], wait: float) -> list[int]:
        """Takes what it can now, then waits up to `wait` seconds for the rest; returns what it lacks."""
        deadline = time.monotonic() + max(wait, 0.0)
        missing, pause = sorted(workspace_ids), 0.05
        while True:
            missing = [w for w in missing if not self._try(w)]
            left = deadline - time.monotonic()
            if not missing or left <= 0:
                return missing
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)

    def _try(self, workspace_id: int) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(sql.load("lease_try"), {"namespace": LEASE_NAMESPACE, "workspace_id": workspace_id})
            taken = bool(cur.fetchone()[0])
        if taken:
            self.held.append(workspace_id)
        return taken

    def close(self) -> None:
        try:
            if self.held and not self._conn.closed:
                with self._conn.cursor() as cur:
                    cur.execute(sql.load("lease_release_all"))
        finally:
            self.held = []
            self._fairy.close()

    def __enter__(self) -> WorkspaceLeases:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _sync_group(
    engine: sa.Engine,
    client: GraphApiClient,
    run: RunSpec,
    group: Group,
    mapping: EventMapping,
    now: Callable[[], float],
    page_size: int,
    on_secret: Callable[[str], None],
    delivery: str,
    result: GroupResult,
    observer: StageObserver,
) -> GroupResult:
    """Syncs `group`'s workspaces into `result` (whose group is the task's, for its label)."""
    pixels = group_pixels(_frame(engine, "group_pixels", {"workspace_ids": list(group.workspace_ids)}))
    targets = _targets(pixels, run)
    for target in targets.values():
        if target.access_token:
            on_secret(target.access_token)
    blocked = {int(key): reason for key, enabled in zip(pixels["pixel_key"], pixels["enabled"], strict=True)
               if (reason := _unsendable(targets[int(key)], bool(enabled))) is not None}  # fmt: skip
    if run.dry_run:
        sink: Sink = DryRunSink()
    else:
        setup = DeliverySetup(engine.url.render_as_string(hide_password=False), client.config,
                              {k: t for k, t in targets.items() if k not in blocked}, run.run_id,
                              now)  # fmt: skip
        sink = DeliverySink(engine, client, setup, delivery, group.pending)
    pages = _pages(engine, run, group, mapping, pixels, blocked, result, now, page_size, observer)
    sink.consume(pages, result)
    _store_group_result(engine, run, result)
    return result


def _pages(
    engine: sa.Engine,
    run: RunSpec,
    group: Group,
    mapping: EventMapping,
    pixels: pd.DataFrame,
    blocked: dict[int, str],
    result: GroupResult,
    now: Callable[[], float],
    page_size: int,
    observer: StageObserver,
) -> Iterator[PreparedPage]:
    """The group's pages, extracted and prepared one at a time; the last holds the batcher's remainder."""
    warm_up(observer)  # Great Expectations' set-up, while PostgreSQL prepares the first page
    sessions = observed(observer, "build", 0, _sessions, engine, list(group.workspace_ids))
    lookup = observed(observer, "build", 0, session_waba_lookup, sessions)
    context = PrepareContext(run.run_id, mapping, pixels, blocked, lookup, now, observer=observer)
    query = _query(run, mapping, group, datetime.fromtimestamp(now(), UTC))
    pages = iter_changes(engine, query, page_size=page_size)
    while True:
        start = time.perf_counter()
        page = next(pages, None)
        observer.on_stage("extract", time.perf_counter() - start, 0 if page is None else len(page))
        if page is None:
            break
        prepared = prepare_page(page, context)
        del page
        collect_young()  # GX leaves reference cycles that hold the page's blocks
        if prepared.validation is not None:
            result.validation.append(prepared.validation)
        yield prepared
    yield PreparedPage(batches=list(context.flush()))


def _store_group_result(engine: sa.Engine, run: RunSpec, result: GroupResult) -> None:
    with raw_connection(engine) as conn, conn.cursor() as cur:
        payload = json.dumps(result.to_dict())
        cur.execute(sql.load("run_group_upsert"), {"run_id": run.run_id, "group_key": result.group.label,
                                                   "result": payload})  # fmt: skip


def _unsendable(target: PixelTarget, enabled: bool) -> str | None:
    """Why nothing of this pixel can be sent, before asking Meta; None when it can."""
    if not enabled:
        return PIXEL_GONE
    if not target.access_token:
        return NO_TOKEN
    if not (target.pixel_id.isascii() and target.pixel_id.isdigit()):
        return NOT_NUMERIC
    return None


def finish_run(engine: sa.Engine, run: RunSpec, mapping: EventMapping) -> dict:
    """Checks every pair of the window has an outcome, moves the hourly watermark, stores a summary."""
    params = _query(run, mapping).params()
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(sql.load("run_completeness"), params)
        pairs, recorded, failed = cur.fetchone()
        summary = run_summary(cur, run)
        summary.update({"pairs": pairs, "recorded": recorded, "failed": failed, "mode": run.mode,
                        "window_start": run.window_start.isoformat(),
                        "window_end": run.window_end.isoformat(), "dry_run": run.dry_run})  # fmt: skip
        cur.execute(sql.load("run_duration"), {"run_id": run.run_id})
        summary["duration_s"] = round(cur.fetchone()[0], 3)
        cur.execute(sql.load("run_orphan_changes"), params)
        orphans = cur.fetchone()[0]
        if orphans:
            summary["orphan_changes"] = orphans
            log.warning("%d status change(s) whose lead no longer exists were not sent", orphans)
        cur.execute(sql.load("run_groups"), {"run_id": run.run_id})
        groups = [result for _, result in cur.fetchall()]
        summary["requests"] = sum(g.get("requests", 0) for g in groups)
        elsewhere = sorted({w for g in groups for w in g.get("leased_elsewhere") or []})
        if elsewhere:
            summary["leased_elsewhere"] = elsewhere
        if run.dry_run:
            summary = _dry_run_summary(summary, groups)
            cur.execute(sql.load("run_finish"), {"run_id": run.run_id, "summary": json.dumps(summary)})
            return summary
        if recorded < pairs:
            held = (f"; workspace(s) {', '.join(map(str, elsewhere))} were left to another run holding their "
                    "lease, which has not recorded them yet" if elsewhere else "")  # fmt: skip
            raise IncompleteRun(f"{pairs - recorded} of {pairs} (change, pixel) pairs have no outcome{held}")
        if run.mode == HOURLY:
            cur.execute(sql.load("watermark_advance"), {"name": WATERMARK_NAME, "watermark": run.window_end})
        cur.execute(sql.load("run_finish"), {"run_id": run.run_id, "summary": json.dumps(summary)})
    return summary


def run_summary(cur, run: RunSpec, top: int = 10) -> dict:
    params = {"window_start": run.window_start, "window_end": run.window_end, "pixel_ids": run.pixel_ids,
              "limit": top}  # fmt: skip
    cur.execute(sql.load("run_summary"), params)
    by = [{"pixel_id": p, "event_name": e, "status": s, "n": n} for p, e, s, n in cur.fetchall()]
    cur.execute(sql.load("run_top_reasons"), params)
    reasons = [{"status": s, "reason": r, "n": n} for s, r, n in cur.fetchall()]
    return {"outcomes": by, "top_reasons": reasons}


def _dry_run_summary(summary: dict, groups: list[dict]) -> dict:
    """A dry run records nothing in sync_logs: its outcomes are what the groups say they would do."""
    would_send: Counter = Counter()
    skipped: Counter = Counter()
    reasons: Counter = Counter()
    for group in groups:
        for pixel, event, source, n in group.get("would_send", []):
            would_send[(pixel, event, source)] += n
        for pixel, event, status, n in group.get("counts", []):
            skipped[(pixel, event, status)] += n
        for reason, n in group.get("top_reasons", []):
            reasons[reason] += n
    summary["would_send"] = [{"pixel_id": p, "event_name": e, "action_source": a, "n": n}
                             for (p, e, a), n in sorted(would_send.items())]  # fmt: skip
    summary["outcomes"] = [{"pixel_id": p, "event_name": e, "status": s, "n": n}
                           for (p, e, s), n in sorted(skipped.items())]  # fmt: skip
    summary["top_reasons"] = [{"status": "skipped", "reason": r, "n": n} for r, n in reasons.most_common(10)]
    return summary
