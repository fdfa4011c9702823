"""The sync's stages as plain functions: plan a run, sync one (pixel, WABA) group, finish the run.

The Airflow DAG calls exactly these; so do the tests and the benchmark.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from konektor_capi import sql
from konektor_capi.db import raw_connection
from konektor_capi.events import build_events
from konektor_capi.extract import ExtractQuery, iter_changes
from konektor_capi.graph_client import GraphApiClient
from konektor_capi.mapping import EventMapping
from konektor_capi.outcomes import SKIPPED, outcome_frame
from konektor_capi.recording import OutcomeRecorder
from konektor_capi.runs import HOURLY, WATERMARK_NAME, RunSpec
from konektor_capi.sender import PixelSender, PixelTarget
from konektor_capi.user_data import build_user_data
from konektor_capi.validation import validate_events
from konektor_capi.waba import resolve_waba, session_waba_lookup

log = logging.getLogger(__name__)

NO_TOKEN = "pixel has no Conversions API access token configured (Settings > Pixel & Tracking)"
PIXEL_GONE = "pixel was disabled or removed before its events were sent"
NOT_NUMERIC = "pixel id is not a numeric Meta dataset id (Settings > Pixel & Tracking)"


class IncompleteRun(RuntimeError):
    """Some (change, pixel) pair of the window has no outcome: the watermark must not move."""


@dataclass(frozen=True)
class Group:
    pixel_id: str
    waba_id: str | None
    pending: int

    @property
    def label(self) -> str:
        return f"pixel {self.pixel_id} / " + (f"WABA {self.waba_id}" if self.waba_id else "no WABA")

    def to_dict(self) -> dict:
        return {"pixel_id": self.pixel_id, "waba_id": self.waba_id, "pending": self.pending,
                "label": self.label}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> Group:
        return cls(data["pixel_id"], data.get("waba_id"), int(data.get("pending", 0)))


@dataclass
class GroupResult:
    group: Group
    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    would_send: Counter = field(default_factory=Counter)
    requests: int = 0
    validation: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(n for (_, _, status), n in self.counts.items() if status == "failed")

    def to_dict(self) -> dict:
        return {
            "group": self.group.to_dict(),
            "counts": [[*k, n] for k, n in sorted(self.counts.items(), key=str)],
            "top_reasons": self.reasons.most_common(10),
            "would_send": [[*k, n] for k, n in sorted(self.would_send.items(), key=str)],
            "requests": self.requests,
            "failed": self.failed,
        }


def _query(run: RunSpec, mapping: EventMapping, pixel_ids: list[str] | None, ctwa_only: bool) -> ExtractQuery:
    return ExtractQuery(
        window_start=run.window_start,
        window_end=run.window_end,
        statuses=mapping.statuses,
        messaging_statuses=mapping.messaging_statuses,
        pixel_ids=pixel_ids,
        ctwa_only=ctwa_only,
    )


def _frame(engine: sa.Engine, name: str, params: dict) -> pd.DataFrame:
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(sql.load(name), params)
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


def _sessions(engine: sa.Engine, workspace_ids: list[int]) -> pd.DataFrame:
    return _frame(engine, "whatsapp_sessions", {"workspace_ids": workspace_ids})


def plan_groups(engine: sa.Engine, run: RunSpec, mapping: EventMapping) -> list[Group]:
    """The (pixel, WABA) groups with unfinished work, from a small aggregate query."""
    params = {**_query(run, mapping, run.pixel_ids, False).params()}
    agg = _frame(engine, "plan_groups", params)
    if agg.empty:
        return []
    lookup = session_waba_lookup(_sessions(engine, sorted({int(w) for w in agg["workspace_id"]})))
    waba = resolve_waba(agg["workspace_id"], agg["agent_phone"], agg["default_country"],
                        agg["pixel_waba_id"], lookup)  # fmt: skip
    ctwa = agg.assign(waba_id=waba, n=agg["n_ctwa"])
    ctwa = ctwa[(ctwa["n"] > 0) & ctwa["waba_id"].notna()]
    plain = agg.assign(waba_id=None, n=agg["n"] - agg["n_ctwa"] * waba.notna())
    both = pd.concat([plain[["pixel_id", "waba_id", "n"]], ctwa[["pixel_id", "waba_id", "n"]]])
    both = both[both["n"] > 0]
    totals = both.groupby(["pixel_id", both["waba_id"].fillna("")], sort=True)["n"].sum()
    return [Group(str(p), w or None, int(n)) for (p, w), n in totals.items()]


def _pixel_target(engine: sa.Engine, pixel_id: str, run: RunSpec) -> PixelTarget | None:
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(sql.load("pixel_config"), {"pixel_id": pixel_id})
        row = cur.fetchone()
    if row is None:
        return None
    token = (row[2] or "").strip()
    return PixelTarget(pixel_id, token, run.test_event_code or (row[3] or None))


def sync_group(
    engine: sa.Engine,
    client: GraphApiClient,
    run: RunSpec,
    group: Group,
    mapping: EventMapping,
    *,
    now: Callable[[], float] = time.time,
    page_size: int = 50_000,
    on_secret: Callable[[str], None] = lambda _secret: None,
) -> GroupResult:
    """Extract, normalise, validate, build, send and record one group's unfinished events."""
    result = GroupResult(group)
    target = _pixel_target(engine, group.pixel_id, run)
    if target is not None and target.access_token:
        on_secret(target.access_token)
    query = _query(run, mapping, [group.pixel_id], ctwa_only=group.waba_id is not None)
    lookup: pd.DataFrame | None = None
    with OutcomeRecorder(engine) as recorder:
        sender = PixelSender(client, target, recorder.record, run.run_id) if target else None
        for page in iter_changes(engine, query, page_size=page_size):
            if lookup is None:
                lookup = session_waba_lookup(
                    _sessions(engine, sorted({int(w) for w in page["workspace_id"]}))
                )
            waba = resolve_waba(page["workspace_id"], page["agent_phone"], page["default_country"],
                                page["pixel_waba_id"], lookup)  # fmt: skip
            events = build_events(page, build_user_data(page), waba, mapping)
            del page  # raw PII goes no further than this point
            mine = events["waba_id"].fillna("") == (group.waba_id or "")
            events = events[mine.to_numpy()]
            if events.empty:
                continue
            reason = _unsendable(target)
            if reason is not None:
                if run.dry_run:
                    result.reasons[reason] += len(events)
                    result.counts.update(_keys(events, SKIPPED))
                else:
                    recorder.record(outcome_frame(events, status=SKIPPED, reason=reason, run_id=run.run_id))
                continue
            verdict = validate_events(events, now=int(now()))
            result.validation.append(verdict.summary)
            bad = verdict.reasons.notna().to_numpy()
            skipped, ready = events[bad], events[~bad]
            if run.dry_run:
                result.reasons.update(verdict.reasons[bad].tolist())
                result.counts.update(_keys(skipped, SKIPPED))
                result.would_send.update(zip(ready["pixel_id"], ready["event_name"], ready["action_source"],
                                             strict=True))  # fmt: skip
                continue
            if not skipped.empty:
                reasons = verdict.reasons[bad]
                recorder.record(outcome_frame(skipped, status=SKIPPED, reason=reasons, run_id=run.run_id))
            sender.send_all(ready)
        if not run.dry_run:
            result.counts, result.reasons = recorder.counts, recorder.reasons
        result.requests = sender.requests if sender is not None else 0
    _store_group_result(engine, run, result)
    return result


def _store_group_result(engine: sa.Engine, run: RunSpec, result: GroupResult) -> None:
    with raw_connection(engine) as conn, conn.cursor() as cur:
        payload = json.dumps(result.to_dict())
        cur.execute(sql.load("run_group_upsert"), {"run_id": run.run_id, "group_key": result.group.label,
                                                   "result": payload})  # fmt: skip


def _unsendable(target: PixelTarget | None) -> str | None:
    """Why nothing of this pixel can be sent, before asking Meta; None when it can."""
    if target is None:
        return PIXEL_GONE
    if not target.access_token:
        return NO_TOKEN
    if not (target.pixel_id.isascii() and target.pixel_id.isdigit()):
        return NOT_NUMERIC
    return None


def _keys(events: pd.DataFrame, status: str) -> Counter:
    return Counter(
        zip(events["pixel_id"], events["event_name"].fillna("-"), [status] * len(events), strict=True)
    )


def finish_run(engine: sa.Engine, run: RunSpec, mapping: EventMapping) -> dict:
    """Checks every pair of the window has an outcome, moves the hourly watermark, stores a summary."""
    params = _query(run, mapping, run.pixel_ids, False).params()
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(sql.load("run_completeness"), params)
        pairs, recorded, failed = cur.fetchone()
        summary = run_summary(cur, run)
        summary.update({"pairs": pairs, "recorded": recorded, "failed": failed, "mode": run.mode,
                        "window_start": run.window_start.isoformat(),
                        "window_end": run.window_end.isoformat(), "dry_run": run.dry_run})  # fmt: skip
        cur.execute(sql.load("run_duration"), {"run_id": run.run_id})
        summary["duration_s"] = round(cur.fetchone()[0], 3)
        cur.execute(sql.load("run_groups"), {"run_id": run.run_id})
        groups = [result for _, result in cur.fetchall()]
        summary["requests"] = sum(g.get("requests", 0) for g in groups)
        if run.dry_run:
            summary = _dry_run_summary(summary, groups)
            cur.execute(sql.load("run_finish"), {"run_id": run.run_id, "summary": json.dumps(summary)})
            return summary
        if recorded < pairs:
            raise IncompleteRun(f"{pairs - recorded} of {pairs} (change, pixel) pairs have no outcome")
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
