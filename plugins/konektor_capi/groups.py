"""A run's work in groups: which workspaces one sync task takes, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from konektor_capi import sql
from konektor_capi.db import raw_connection
from konektor_capi.extract import ExtractQuery
from konektor_capi.mapping import EventMapping
from konektor_capi.outcome_counts import OutcomeCounts
from konektor_capi.retry_policy import heals_by_waiting
from konektor_capi.runs import RunSpec, retry_since
from konektor_capi.tuning import MAX_GROUPS


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
    counts: OutcomeCounts = field(default_factory=OutcomeCounts)
    requests: int = 0
    validation: list[dict] = field(default_factory=list)
    delivery_seconds: dict[str, float] = field(default_factory=dict)
    peak_in_flight: int = 0  # the most requests to Meta out at once
    throttled: int = 0  # answers that were Meta's throttling
    lowest_limit: int = 0  # the fewest requests in flight the throttling allowed (max_in_flight: none)
    # Workspaces of the group another run held the lease of: left to that run, not synced here.
    leased_elsewhere: list[int] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.counts.failed

    @property
    def heals_by_waiting(self) -> bool:
        """Whether retrying the task later could help: only when some failure was transient."""
        return any(heals_by_waiting(reason) for _, reason in self.counts.failures)

    def failure_summary(self) -> str:
        return self.counts.failure_summary()

    def to_dict(self) -> dict:
        return {
            "group": self.group.to_dict(),
            **self.counts.to_dict(),
            "requests": self.requests,
            "delivery_seconds": self.delivery_seconds,
            "peak_in_flight": self.peak_in_flight,
            "throttled": self.throttled,
            "lowest_limit": self.lowest_limit,
            "leased_elsewhere": self.leased_elsewhere,
        }


def owed_query(
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
        test_event_code=clean_text(run.test_event_code) or None,
    )


def read_frame(engine: sa.Engine, name: str, params: dict) -> pd.DataFrame:
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(sql.load(name), params)
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


def plan_groups(
    engine: sa.Engine, run: RunSpec, mapping: EventMapping, max_groups: int = MAX_GROUPS
) -> list[Group]:
    """The run's tasks: workspaces with unfinished work, packed into at most `max_groups` groups.

    A workspace is never split (its changes are read and hashed once, for all its pixels); the
    largest go first, each to the group with the least work so far, so groups come out about even.
    """
    agg = read_frame(engine, "plan_groups", owed_query(run, mapping).params())
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


def clean_text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""  # NULL arrives as None or NaN
