"""The sync's stages as plain functions: plan a run (groups.py), sync one group of workspaces (the
runner: source, prepare_page, sink), finish the run.

The Airflow DAG calls exactly these; so do the CLI, the tests and the benchmark.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from konektor_capi import sql
from konektor_capi.concurrency import DEFAULT_CONCURRENCY, Concurrency
from konektor_capi.db import raw_connection
from konektor_capi.delivery import DeliverySetup
from konektor_capi.extract import iter_changes
from konektor_capi.fanout import group_pixels
from konektor_capi.graph_client import GraphApiClient
from konektor_capi.groups import (
    Group,
    GroupResult,
    clean_text,
    owed_query,
    pack_workspaces,
    plan_groups,
    read_frame,
)
from konektor_capi.leases import LEASE_NAMESPACE, WorkspaceLeases
from konektor_capi.mapping import EventMapping
from konektor_capi.outcome_counts import OutcomeCounts
from konektor_capi.prepare import PrepareContext, PreparedPage, prepare_page
from konektor_capi.runs import HOURLY, WATERMARK_NAME, RunSpec
from konektor_capi.sender import PixelTarget
from konektor_capi.sinks import DeliverySink, DryRunSink, Sink
from konektor_capi.stages import UNOBSERVED, StageObserver, observed
from konektor_capi.tuning import LEASE_WAIT_SECONDS, PAGE_SIZE
from konektor_capi.waba import session_waba_lookup

# The run's stages for their callers (the Airflow tasks, the CLI, tests, the benchmark) in one module.
__all__ = ["LEASE_NAMESPACE", "Group", "GroupResult", "IncompleteRun", "WorkspaceLeases", "finish_run",
           "pack_workspaces", "plan_groups", "run_summary", "sync_group"]  # fmt: skip

log = logging.getLogger(__name__)

NO_TOKEN = "pixel has no Conversions API access token configured (Settings > Pixel & Tracking)"
PIXEL_GONE = "pixel was disabled or removed before its events were sent"
NOT_NUMERIC = "pixel id is not a numeric Meta dataset id (Settings > Pixel & Tracking)"


class IncompleteRun(RuntimeError):
    """Some (change, pixel) pair of the window has no outcome: the watermark must not move."""


def _targets(pixels: pd.DataFrame, run: RunSpec) -> dict[int, PixelTarget]:
    return {
        int(key): PixelTarget(
            str(pixel_id), clean_text(token), clean_text(run.test_event_code) or clean_text(code) or None
        )
        for key, pixel_id, token, code in zip(
            pixels["pixel_key"],
            pixels["pixel_id"],
            pixels["capi_access_token"],
            pixels["test_event_code"],
            strict=True,
        )  # fmt: skip
    }


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
    delivery: str | None = None,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
    lease_wait: float | None = None,
    observer: StageObserver = UNOBSERVED,
) -> GroupResult:
    """Extract, normalise, validate, build, send and record one group's unfinished events.

    The extract is read ahead in a thread, this process prepares the batches, and delivery sends
    them (up to `max_in_flight` requests at once) and records each answer as it arrives, in a child
    process or in this one: `concurrency` (concurrency.py) says how; `delivery` ("auto", "process",
    "thread") overrides its choice of where delivery runs.

    First it takes a lease on each workspace of the group (leases.py): two runs never send one
    workspace's events at once. A workspace whose lease another run holds for longer than
    `lease_wait` seconds (default LEASE_WAIT_SECONDS) is left to that run and listed in the result's
    `leased_elsewhere`; this run's finish then finds its pairs without an outcome if the holder has not
    recorded them yet. A dry run sends nothing and takes no lease.

    `observer` hears how long each preparing stage took (stages.py); delivery's own clock comes back
    in the result's `delivery_seconds`.
    """
    if delivery is not None:
        concurrency = replace(concurrency, delivery=delivery)
    runner = _GroupRunner(engine, client, run, mapping, now, page_size, on_secret, concurrency, observer)
    if run.dry_run:
        return runner.sync(group, GroupResult(group))
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
        return runner.sync(mine, result)


@dataclass(frozen=True)
class _GroupRunner:
    """One group's sync: its source (the extract's pages), prepare_page, and a sink."""

    engine: sa.Engine
    client: GraphApiClient
    run: RunSpec
    mapping: EventMapping
    now: Callable[[], float]
    page_size: int
    on_secret: Callable[[str], None]
    concurrency: Concurrency
    observer: StageObserver

    def sync(self, group: Group, result: GroupResult) -> GroupResult:
        """Syncs `group`'s workspaces into `result` (whose group is the task's, for its label)."""
        pixels = group_pixels(read_frame(self.engine, "group_pixels",
                                         {"workspace_ids": list(group.workspace_ids)}))  # fmt: skip
        targets = _targets(pixels, self.run)
        for target in targets.values():
            if target.access_token:
                self.on_secret(target.access_token)
        enabled = zip(pixels["pixel_key"], pixels["enabled"], strict=True)
        blocked = {int(key): reason for key, on in enabled
                   if (reason := _unsendable(targets[int(key)], bool(on))) is not None}  # fmt: skip
        with self.concurrency.collections():
            pages = self._pages(group, PrepareContext(self.run.run_id, self.mapping, pixels, blocked,
                                                      self._waba_lookup(group), self.now,
                                                      observer=self.observer), result)  # fmt: skip
            self._sink(group, targets, blocked).consume(pages, result)
        _store_group_result(self.engine, self.run, result)
        return result

    def _sink(self, group: Group, targets: dict[int, PixelTarget], blocked: dict[int, str]) -> Sink:
        if self.run.dry_run:
            return DryRunSink()
        sendable = {key: target for key, target in targets.items() if key not in blocked}
        setup = DeliverySetup(self.engine.url.render_as_string(hide_password=False), self.client.config,
                              sendable, self.run.run_id, self.now,
                              self.concurrency.fewer_collections)  # fmt: skip
        in_child = self.concurrency.delivers_in_child(group.pending)
        return DeliverySink(self.engine, self.client, setup, in_child)

    def _waba_lookup(self, group: Group) -> pd.DataFrame:
        sessions = observed(self.observer, "build", 0, read_frame, self.engine, "whatsapp_sessions",
                            {"workspace_ids": list(group.workspace_ids)})  # fmt: skip
        return observed(self.observer, "build", 0, session_waba_lookup, sessions)

    def _pages(self, group: Group, context: PrepareContext, result: GroupResult) -> Iterator[PreparedPage]:
        """The group's pages, extracted and prepared one at a time; the last holds the batcher's remainder."""
        query = owed_query(self.run, self.mapping, group, datetime.fromtimestamp(self.now(), UTC))
        pages = iter_changes(self.engine, query, page_size=self.page_size)
        while True:
            start = time.perf_counter()
            page = next(pages, None)
            self.observer.on_stage("extract", time.perf_counter() - start, 0 if page is None else len(page))
            if page is None:
                break
            prepared = prepare_page(page, context)
            del page
            self.concurrency.after_page()
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
    params = owed_query(run, mapping).params()
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
    counts = OutcomeCounts()
    for group in groups:
        counts.update(OutcomeCounts.from_dict(group))
    summary.update({k: v for k, v in counts.to_dict().items() if k != "failed"})
    return summary
