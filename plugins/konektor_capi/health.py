"""Sync health: what the last days' outcomes in sync_logs and the last runs in sync_runs add up to.

Aggregates only (counts, reasons, ids): never PII, never tokens. The numbers the Meta CAPI health page
shows (konektor_capi_health), read in one read-only transaction with a statement timeout, so a slow
page never holds up the database. Every query reads sync_logs through its indexes (health_*.sql).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from konektor_capi import sql
from konektor_capi.db import raw_connection
from konektor_capi.pipeline import NO_TOKEN, NOT_NUMERIC
from konektor_capi.report import STATUSES

DAYS = 7  # Meta's window for server events: what the sync can still send, or heal
RECENT = timedelta(hours=24)  # a skip is final: only recent ones say the configuration is still wrong
MATCH_KEYS_COLUMN = "match_keys"
STATEMENT_TIMEOUT = "20s"
WORK_MEM = "32MB"

# What a person does about each problem that makes a pixel's events fail or skip until someone acts.
ACTIONS = {
    "token_refused": (
        "Meta refuses the access token (error 190: invalid or expired)",
        "Generate a new system-user token for this pixel in Meta's Events Manager and save it in Konektor "
        "(Settings > Pixel & Tracking). The next hourly run resends the failed events that are still "
        "inside Meta's 7 days; `make check-pixels` checks the token now.",
    ),
    "token_missing": (
        "No Conversions API access token configured",
        "Add the pixel's token in Konektor (Settings > Pixel & Tracking). Events skipped for this are not "
        "resent; later ones go out with the next run.",
    ),
    "permission_missing": (
        "The token's system user has no access to this pixel (error 10 or 200-299)",
        "In Meta Business Settings, give the system user of the token access to this dataset (pixel). "
        "The next hourly run resends the failed events.",
    ),
    "unknown_pixel": (
        "Meta does not know this pixel id, or the token cannot see it (error 100/33, or not numeric)",
        "Check the pixel id in Konektor (Settings > Pixel & Tracking) against Events Manager: it is the "
        "dataset id, digits only.",
    ),
}


@dataclass(frozen=True)
class Problem:
    pixel_id: str
    workspace_id: int
    problem: str  # a key of ACTIONS
    events: int
    last_seen: datetime
    example_status_change_id: int
    latest_reason: str

    @property
    def what(self) -> str:
        return ACTIONS[self.problem][0]

    @property
    def todo(self) -> str:
        return ACTIONS[self.problem][1]


@dataclass(frozen=True)
class Reason:
    status: str
    reason: str
    n: int
    pixels: int
    example_status_change_id: int


@dataclass(frozen=True)
class KeyCoverage:
    pixel_id: str
    events: int  # events Meta took that record their match keys
    keys: dict[str, int]  # key -> events that carried it

    def share(self, key: str) -> float:
        return self.keys.get(key, 0) / self.events if self.events else 0.0


@dataclass(frozen=True)
class Run:
    run_id: str
    mode: str
    dry_run: bool
    window_start: datetime
    window_end: datetime
    pixel_ids: list[str] | None
    test_code: bool
    started_at: datetime
    finished_at: datetime | None
    summary: dict | None

    @property
    def kind(self) -> str:
        return "dry run" if self.dry_run else self.mode

    @property
    def totals(self) -> dict[str, int]:
        """Outcomes of the run's window by status (a dry run: what it would have skipped)."""
        totals = dict.fromkeys(STATUSES, 0)
        for item in (self.summary or {}).get("outcomes", []):
            totals[item["status"]] = totals.get(item["status"], 0) + item["n"]
        return totals

    @property
    def would_send(self) -> int:
        return sum(w["n"] for w in (self.summary or {}).get("would_send", []))


@dataclass(frozen=True)
class Health:
    generated_at: datetime
    since: datetime
    until: datetime
    hourly: dict[str, dict[datetime, dict[str, int]]]  # pixel -> hour (UTC) -> status -> n
    needs_action: list[Problem]
    reasons: list[Reason]
    runs: list[Run]
    match_keys: list[KeyCoverage] | None = None  # None: sync_logs does not record match keys
    match_keys_since: datetime | None = None
    pixels: list[str] = field(default_factory=list)

    @property
    def today_start(self) -> datetime:
        return self.generated_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def today(self) -> dict[str, dict[str, int]]:
        """Per pixel, today's (UTC) conversions by status: the chart's hours since midnight."""
        start = self.today_start
        return {
            pixel: {s: sum(c.get(s, 0) for h, c in hours.items() if h >= start) for s in STATUSES}
            for pixel, hours in self.hourly.items()
        }

    def totals(self) -> dict[str, int]:
        counts = [c for hours in self.hourly.values() for c in hours.values()]
        return {s: sum(c.get(s, 0) for c in counts) for s in STATUSES}


def read_health(engine: sa.Engine, now: datetime | None = None, *, days: int = DAYS, top: int = 15,
                runs: int = 20) -> Health:  # fmt: skip
    now = (now or datetime.now(UTC)).astimezone(UTC)
    # Whole hours: the chart's first bar is a full hour; the current hour is included so far.
    until = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    since = until - timedelta(days=days)
    window = {"since": since, "until": until}
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute("SET TRANSACTION READ ONLY")
        cur.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
        cur.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")  # the chart's sort in memory, not on disk
        cur.execute(sql.load("health_hourly"), window)
        hourly: dict[str, dict[datetime, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        for pixel, hour, status, n in cur.fetchall():
            hourly[pixel][hour.astimezone(UTC)][status] = n
        cur.execute(sql.load("health_needs_action"), {**window, "recent": now - RECENT, "no_token": NO_TOKEN,
                                                      "not_numeric": NOT_NUMERIC})  # fmt: skip
        needs_action = [Problem(*row) for row in cur.fetchall()]
        cur.execute(sql.load("health_reasons"), {**window, "limit": top})
        reasons = [Reason(*row) for row in cur.fetchall()]
        cur.execute(sql.load("health_runs"), {"limit": runs})
        last_runs = [Run(*row) for row in cur.fetchall()]
        coverage, coverage_since = None, None
        cur.execute(sql.load("health_has_column"), {"column": MATCH_KEYS_COLUMN})
        if cur.fetchone()[0]:
            # The last day only: the keys are read from the table itself, not from an index.
            coverage_since = max(since, until - RECENT)
            cur.execute(sql.load("health_match_keys"), {"since": coverage_since, "until": until})
            coverage = _coverage(cur.fetchall())
    pixels = sorted(set(hourly) | {p.pixel_id for p in needs_action})
    return Health(
        generated_at=now, since=since, until=until,
        hourly={p: dict(h) for p, h in hourly.items()}, needs_action=needs_action, reasons=reasons,
        runs=last_runs, match_keys=coverage, match_keys_since=coverage_since, pixels=pixels,
    )  # fmt: skip


def _coverage(rows: list[tuple]) -> list[KeyCoverage]:
    events: dict[str, int] = {}
    keys: dict[str, dict[str, int]] = defaultdict(dict)
    for pixel, key, n in rows:
        if key is None:
            events[pixel] = n
        else:
            keys[pixel][key] = n
    return [KeyCoverage(pixel, events[pixel], dict(sorted(keys[pixel].items()))) for pixel in sorted(events)]


def as_json(health: Health) -> dict:
    """The page's numbers as JSON (ISO times), for scripts and the page's tests."""
    iso = datetime.isoformat
    return {
        "generated_at": iso(health.generated_at),
        "since": iso(health.since),
        "until": iso(health.until),
        "today_start": iso(health.today_start),
        "today": health.today(),
        "hourly": [{"pixel_id": p, "hour": iso(h), **counts}
                   for p, hours in sorted(health.hourly.items()) for h, counts in sorted(hours.items())],
        "needs_action": [{"pixel_id": p.pixel_id, "workspace_id": p.workspace_id, "problem": p.problem,
                          "what": p.what, "todo": p.todo, "events": p.events, "last_seen": iso(p.last_seen),
                          "example_status_change_id": p.example_status_change_id,
                          "latest_reason": p.latest_reason} for p in health.needs_action],
        "reasons": [vars(r) for r in health.reasons],
        "match_keys": None if health.match_keys is None else [
            {"pixel_id": c.pixel_id, "events": c.events, "keys": c.keys} for c in health.match_keys],
        "runs": [{"run_id": r.run_id, "kind": r.kind, "window_start": iso(r.window_start),
                  "window_end": iso(r.window_end), "started_at": iso(r.started_at),
                  "finished_at": r.finished_at and iso(r.finished_at), "totals": r.totals,
                  "would_send": r.would_send, "pixel_ids": r.pixel_ids} for r in health.runs],
    }  # fmt: skip
