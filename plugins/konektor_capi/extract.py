"""Streams a run's work out of Konektor's database in pages, so memory does not grow with the backlog.

The rows arrive as COPY ... TO STDOUT CSV, read by pandas' C CSV parser: far faster than fetching
rows through the DB-API one tuple at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from konektor_capi import sql
from konektor_capi.byte_buffer import ByteBuffer, Closed
from konektor_capi.db import raw_connection
from konektor_capi.tuning import READ_AHEAD_BYTES, SMALL_WINDOW_PAIRS

TEXT_COLUMNS = (
    "to_status", "change_event_id", "default_country", "default_currency", "lead_source_name", "email",
    "phone", "first_name", "last_name", "city", "state", "zip_code", "country",
    "gender", "agent_phone", "ctwa_clid", "fbclid", "fbc", "fbp", "client_ip", "client_user_agent",
    "landing_page_url", "meta_lead_id", "deal_currency", "pixel_keys", "lead_campaign_id", "lead_adset_id",
    "lead_ad_id",
)  # fmt: skip
_DTYPES = {
    **{c: "object" for c in TEXT_COLUMNS},
    "status_change_id": "int64",
    "lead_id": "int64",
    "workspace_id": "int64",
    # Read as text and parsed in `_prepare`: the C parser aborts the whole extract on PostgreSQL's 'NaN'.
    "deal_value": "object",
    "date_of_birth": "object",
    "changed_at": "object",
    "lead_created_at": "object",
}


@dataclass(frozen=True)
class ExtractQuery:
    window_start: datetime
    window_end: datetime
    statuses: list[str]
    pixel_ids: list[str] | None = None
    # None = every workspace (the plan); a group's extract names its workspaces.
    workspace_ids: list[int] | None = field(default_factory=list)
    # Unfinished (change, pixel) pairs the plan counted for this query; 0 = not known.
    expected_pairs: int = 0
    # Hourly runs: also owed, the failed pairs outside the window and the pairs sent with a test code
    # since this time that this run would send otherwise (owed_pairs.sql). None = the window only.
    retry_since: datetime | None = None
    # The run's test event code (None: each pixel's own), which decides whether a test send is final.
    test_event_code: str | None = None

    def params(self) -> dict:
        return {
            "window_start": self.window_start,
            "window_end": self.window_end,
            "statuses": self.statuses,
            "pixel_ids": self.pixel_ids,
            "workspace_ids": self.workspace_ids,
            "retry_since": self.retry_since,
            "test_event_code": self.test_event_code,
        }


def iter_changes(engine: sa.Engine, query: ExtractQuery, page_size: int = 50_000) -> Iterator[pd.DataFrame]:
    """Pages of status changes that still owe some pixel an outcome (`pixel_keys` says which).

    PostgreSQL streams one COPY into a buffer from a background thread while pandas parses it page by
    page, so the database does one pass over the window, streams the next pages while this thread
    processes the current one, and memory holds a few pages' CSV at most.
    """
    buffer = ByteBuffer(max_bytes=READ_AHEAD_BYTES)
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with raw_connection(engine) as conn, conn.cursor() as cur:
                cur.execute("SET TIME ZONE 'UTC'")
                for setting in planner_settings(query.expected_pairs):
                    cur.execute(setting)
                statement = cur.mogrify(sql.load("extract_changes"), query.params()).decode()
                cur.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, HEADER true)", buffer)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            failure.append(exc)
        finally:
            buffer.finish()

    producer = threading.Thread(target=produce, name="extract-copy", daemon=True)
    producer.start()
    try:
        try:
            reader = pd.read_csv(buffer, dtype=_DTYPES, keep_default_na=False, na_values=[""],
                                 chunksize=page_size)  # fmt: skip
        except pd.errors.EmptyDataError:  # the producer failed before the header
            reader = iter(())
        for chunk in reader:
            if not chunk.empty:
                yield _prepare(chunk)
    finally:
        buffer.close()
        producer.join()
    if failure and not isinstance(failure[0], Closed):
        raise failure[0]


def planner_settings(expected_pairs: int) -> list[str]:
    """The session settings the extract runs with, by the size of its work.

    A large window, or one of unknown size, gets hash joins only: with sync_logs small or empty when
    the statement is planned, the planner picks a nested-loop anti join that rescans sync_logs per
    change while the recorder keeps inserting under the long-running COPY, which is quadratic. Hash
    joins read each table once, whatever the statistics say. A small window is left to the planner:
    there a hash join would read the whole of sync_logs (all history, growing every hour) where
    primary-key lookups read only the window's rows (docs/performance.md has the measurement).
    """
    if 0 < expected_pairs <= SMALL_WINDOW_PAIRS:
        return []
    return ["SET LOCAL enable_nestloop = off"]


# Per parsed column, where `_prepare` keeps the raw text of a value it could not use (None elsewhere):
# the event builder turns it into a skip reason naming the column, or drops what depended on it.
UNUSABLE = {"changed_at": "unusable_changed_at", "lead_created_at": "unusable_lead_created_at",
            "deal_value": "unusable_deal_value"}  # fmt: skip
# A lead created after this much past the run's clock (a mistyped year) has no usable creation time.
CREATED_AT_SKEW = pd.Timedelta(days=1)


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Typed columns from the CSV text, parsed defensively and column-wise (no per-row Python).

    PostgreSQL holds values pandas cannot use: numeric 'NaN', timestamps 'infinity', BC or past year
    9999. Such a value becomes missing here, and its raw text goes to the column's UNUSABLE column so
    that one row is skipped or loses one field, while the rest of the page goes on.
    """
    frame = frame.astype({c: "object" for c in TEXT_COLUMNS})
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].where(frame[column].notna(), None)
    changed_at = _timestamps(frame, "changed_at")
    created_at = _timestamps(frame, "lead_created_at", latest=pd.Timestamp.now(tz="UTC") + CREATED_AT_SKEW)
    raw_value = frame["deal_value"]
    value = pd.to_numeric(raw_value, errors="coerce").astype("float64")
    bad_value = raw_value.notna().to_numpy() & ~np.isfinite(value.to_numpy())
    frame["deal_value"] = value.where(~bad_value)
    frame[UNUSABLE["deal_value"]] = raw_value.astype("object").where(bad_value, None)
    frame["changed_at"], frame["lead_created_at"] = changed_at, created_at
    # An unusable date of birth (BC, 'infinity', past 9999) is only dropped from user_data: it is
    # PII, so it is never quoted in a reason, and one optional field is no reason to hold an event.
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"], errors="coerce", format="ISO8601").dt.date
    frame["date_of_birth"] = frame["date_of_birth"].where(frame["date_of_birth"].notna(), None)
    return frame


def _timestamps(frame: pd.DataFrame, column: str, latest: pd.Timestamp | None = None) -> pd.Series:
    """The column as UTC timestamps; an unparseable or too late value is NaT, its text kept aside."""
    raw = frame[column]
    stamps = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
    usable = stamps.notna()
    if latest is not None:
        usable &= stamps <= latest
    bad = (raw.notna() & ~usable).to_numpy()
    frame[UNUSABLE[column]] = raw.astype("object").where(bad, None)
    return stamps.where(~bad)
