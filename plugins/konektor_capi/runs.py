"""A sync run's identity and window, fixed on its first attempt so reruns redo exactly that work."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from konektor_capi import sql
from konektor_capi.db import ensure_pipeline_schema, raw_connection

WATERMARK_NAME = "meta_capi_sync"
# A change whose transaction commits up to this long after its changed_at is still synced.
LATE_COMMIT_GRACE = timedelta(hours=1)
# Meta takes server events up to 7 days old: the first run looks no further back.
FIRST_RUN_LOOKBACK = timedelta(days=7)
HOURLY, BACKFILL = "hourly", "backfill"
# Meta refuses server events older than 7 days (the whole request fails). An event is sent only while it
# is younger than that by this margin, so none crosses the line between validation and Meta's answer
# (queued batches, retries with backoff); older ones are recorded as `skipped`, too old.
META_MAX_AGE = timedelta(days=7)
SEND_MARGIN = timedelta(minutes=15)


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    mode: str
    window_start: datetime
    window_end: datetime
    pixel_ids: list[str] | None = None
    dry_run: bool = False
    test_event_code: str | None = None

    def to_dict(self) -> dict:
        """XCom-friendly: ISO strings, no secrets."""
        data = asdict(self)
        data["window_start"] = self.window_start.isoformat()
        data["window_end"] = self.window_end.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        return cls(
            **{
                **data,
                "window_start": datetime.fromisoformat(data["window_start"]),
                "window_end": datetime.fromisoformat(data["window_end"]),
            }
        )


def retry_since(run: RunSpec, now: datetime) -> datetime | None:
    """From when an hourly run also retries pairs outside its window (owed_pairs.sql); None for backfills.

    Hourly runs retry every `failed` pair (one still inside Meta's 7 days is sent, an older one is
    recorded as too old) and the events sent since this time with a test code the run no longer sends
    with (now sent live). Backfills keep to their range.
    """
    return now - META_MAX_AGE if run.mode == HOURLY else None


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!s}: give a timezone, e.g. 2026-11-20T00:00:00Z")
    return parsed


def run_request(
    params: dict | None,
    run_type: str,
    interval_start: datetime | None,
    interval_end: datetime | None,
    now: datetime,
) -> dict:
    """open_run's arguments for a DAG run.

    A run with a start or end param is a backfill of that range (a manual run from the trigger form or
    `make backfill`); a run created by `airflow backfill create` backfills its data interval; anything
    else is an hourly run: a scheduled one up to its data interval end, one a person started (`make
    sync`, the Trigger button) up to now, since whoever asks for a sync means what is there now.
    """
    params = params or {}
    start, end = parse_time(params.get("start")), parse_time(params.get("end"))
    common = {
        "pixel_ids": [str(p) for p in params.get("pixel_ids") or []] or None,
        "dry_run": bool(params.get("dry_run")),
        "test_event_code": params.get("test_event_code") or None,
    }
    kind = run_type.lower()
    up_to = (interval_end or now) if kind.endswith("scheduled") else now
    if start or end:
        if start is None:
            raise ValueError("a backfill needs a start")
        return {"mode": BACKFILL, "window_start": start, "window_end": end or up_to, **common}
    if kind.endswith("backfill"):
        return {"mode": BACKFILL, "window_start": interval_start, "window_end": interval_end, **common}
    return {"mode": HOURLY, "window_start": None, "window_end": up_to, **common}


def open_run(
    engine: sa.Engine,
    run_id: str,
    *,
    mode: str,
    window_end: datetime,
    window_start: datetime | None = None,
    pixel_ids: list[str] | None = None,
    dry_run: bool = False,
    test_event_code: str | None = None,
) -> RunSpec:
    """The run's spec: the stored one when this run_id was opened before, else a new one.

    Hourly runs start at the stored watermark less the late-commit grace (7 days back on the first
    run); backfills take the window they are given and never read or move the watermark.
    """
    if mode not in (HOURLY, BACKFILL):
        raise ValueError(f"unknown run mode {mode!r}")
    if window_end.tzinfo is None:
        raise ValueError("window_end must be timezone-aware")
    ensure_pipeline_schema(engine)
    with raw_connection(engine) as conn, conn.cursor() as cur:
        existing = _get(cur, run_id)
        if existing is not None:
            return existing
        if mode == HOURLY:
            cur.execute(sql.load("watermark_get"), {"name": WATERMARK_NAME})
            row = cur.fetchone()
            window_start = row[0] - LATE_COMMIT_GRACE if row else window_end - FIRST_RUN_LOOKBACK
        elif window_start is None:
            raise ValueError("a backfill needs a window start")
        if window_start >= window_end:
            raise ValueError(f"empty window: {window_start.isoformat()} .. {window_end.isoformat()}")
        spec = RunSpec(run_id, mode, window_start, window_end, pixel_ids or None, dry_run, test_event_code)
        cur.execute(sql.load("run_insert"), {**asdict(spec)})
        conn.commit()
        # A concurrent first attempt may have won the insert: its window is the run's window.
        return _get(cur, run_id)


def _get(cur, run_id: str) -> RunSpec | None:
    cur.execute(sql.load("run_get"), {"run_id": run_id})
    row = cur.fetchone()
    if row is None:
        return None
    return RunSpec(
        run_id=row[0], mode=row[1], window_start=row[2], window_end=row[3],
        pixel_ids=list(row[4]) if row[4] else None, dry_run=row[5], test_event_code=row[6],
    )  # fmt: skip
