"""A backfill's request: START, END, PIXELS and DRY_RUN checked before Airflow starts.

`konektor-capi backfill` takes them as options; `make backfill` hands them over as environment
variables (BACKFILL_START, ...), never inside a shell command line, so a value is only ever data.
A mistake is an error on the terminal, not a run that does something else (a DRY_RUN that is not
understood must not send for real).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg2

from konektor_capi.runs import parse_time
from konektor_capi_cli.targets import flag

USAGE = (
    "usage: konektor-capi backfill --start <ISO-8601> [--end <ISO-8601>] [--pixels id,id] [--dry-run], "
    "or make backfill START=<ISO-8601> [END=<ISO-8601>] [PIXELS=id,id] [DRY_RUN=1]"
)
ENV = {key: f"BACKFILL_{key.upper()}" for key in ("start", "end", "pixels", "dry_run")}


class InvalidRequest(ValueError):
    pass


@dataclass(frozen=True)
class Backfill:
    start: datetime
    end: datetime | None  # None: up to now
    pixel_ids: tuple[str, ...]
    dry_run: bool

    def conf(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat() if self.end else None,
                "pixel_ids": list(self.pixel_ids), "dry_run": self.dry_run}  # fmt: skip


def from_values(start: str | None, end: str | None, pixels: str | None, dry_run: str | bool | None,
                now: datetime | None = None) -> Backfill:  # fmt: skip
    if not (start or "").strip():
        raise InvalidRequest(f"START is missing. {USAGE}")
    start_at, end_at = _time("START", start), _time("END", end) if (end or "").strip() else None
    limit = end_at or now or datetime.now(UTC)
    if start_at >= limit:
        raise InvalidRequest(f"START ({start_at.isoformat()}) is not before END "
                             f"({end_at.isoformat() if end_at else 'now'}): the range is empty")  # fmt: skip
    if not isinstance(dry_run, bool):
        try:
            dry_run = flag("DRY_RUN", dry_run)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
    ids = tuple(dict.fromkeys(p.strip() for p in (pixels or "").split(",") if p.strip()))
    return Backfill(start_at, end_at, ids, dry_run)


def from_env(env: Mapping[str, str], now: datetime | None = None) -> Backfill:
    return from_values(*(env.get(ENV[k]) for k in ("start", "end", "pixels", "dry_run")), now=now)


def _time(name: str, value: str) -> datetime:
    try:
        return parse_time(value.strip())
    except ValueError:
        raise InvalidRequest(
            f"{name}={value!r} is not an ISO-8601 date-time with a timezone (e.g. 2026-11-20T00:00:00Z)"
        ) from None


def check_pixels(dsn: str, pixel_ids: tuple[str, ...]) -> None:
    """Every pixel asked for is an enabled row of meta_pixels: a typo would otherwise backfill nothing."""
    if not pixel_ids:
        return
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pixel_id, bool_or(enabled) FROM meta_pixels WHERE pixel_id = ANY(%s) "
                        "GROUP BY pixel_id", (list(pixel_ids),))  # fmt: skip
            known = dict(cur.fetchall())
    finally:
        conn.close()
    unknown = [p for p in pixel_ids if p not in known]
    disabled = [p for p in pixel_ids if known.get(p) is False]
    problems = []
    if unknown:
        problems.append(f"not in meta_pixels: {', '.join(unknown)}")
    if disabled:
        problems.append(f"disabled in every workspace: {', '.join(disabled)}")
    if problems:
        raise InvalidRequest(f"PIXELS: {'; '.join(problems)}")
