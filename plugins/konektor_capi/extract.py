"""Streams a run's work out of Konektor's database in pages, so memory does not grow with the backlog.

Each page is one COPY ... TO STDOUT of the extract query, read by pandas' C CSV parser: far faster than
fetching rows through the DB-API one tuple at a time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from konektor_capi import sql
from konektor_capi.db import raw_connection

TEXT_COLUMNS = (
    "to_status", "change_event_id", "default_country", "default_currency", "lead_source_name", "pixel_id",
    "pixel_waba_id", "email", "phone", "first_name", "last_name", "city", "state", "zip_code", "country",
    "gender", "agent_phone", "ctwa_clid", "fbclid", "fbc", "fbp", "client_ip", "client_user_agent",
    "landing_page_url", "meta_lead_id", "deal_currency",
)  # fmt: skip
_DTYPES = {
    **{c: "object" for c in TEXT_COLUMNS},
    "status_change_id": "int64",
    "lead_id": "int64",
    "workspace_id": "int64",
    "deal_value": "float64",
    "date_of_birth": "object",
    "changed_at": "object",
    "lead_created_at": "object",
}
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@dataclass(frozen=True)
class ExtractQuery:
    window_start: datetime
    window_end: datetime
    statuses: list[str]
    messaging_statuses: list[str]
    pixel_ids: list[str] | None = None
    ctwa_only: bool = False

    def params(self) -> dict:
        return {
            "window_start": self.window_start,
            "window_end": self.window_end,
            "statuses": self.statuses,
            "messaging_statuses": self.messaging_statuses,
            "pixel_ids": self.pixel_ids,
            "ctwa_only": self.ctwa_only,
        }


def iter_changes(engine: sa.Engine, query: ExtractQuery, page_size: int = 50_000) -> Iterator[pd.DataFrame]:
    """Pages of (status change x pixel) rows still lacking a final outcome, in (changed_at, id) order."""
    after_changed_at, after_id = EPOCH, 0
    template = sql.load("extract_changes")
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        while True:
            params = {**query.params(), "after_changed_at": after_changed_at, "after_id": after_id,
                      "page_size": page_size}  # fmt: skip
            statement = cur.mogrify(template, params).decode()
            buf = io.StringIO()
            cur.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, HEADER true)", buf)
            buf.seek(0)
            page = _read_page(buf)
            if page is None:
                return
            if not page.empty:
                yield page
            # The cursor moves on changes, not on (change, pixel) rows, and past changes whose pixels
            # were all done already: ask where the page of changes ended.
            cur.execute(_page_end_sql(), params)
            last = cur.fetchone()
            if last is None or last[0] is None:
                return
            after_changed_at, after_id = last


def _page_end_sql() -> str:
    return sql.load("extract_page_end")


def _read_page(buf: io.StringIO) -> pd.DataFrame | None:
    if buf.getvalue().count("\n") <= 1:
        return pd.DataFrame(columns=list(_DTYPES)) if buf.getvalue() else None
    frame = pd.read_csv(buf, dtype=_DTYPES, keep_default_na=False, na_values=[""])
    frame = frame.astype({c: "object" for c in TEXT_COLUMNS})
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].where(frame[column].notna(), None)
    frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True, format="ISO8601")
    frame["lead_created_at"] = pd.to_datetime(frame["lead_created_at"], utc=True, format="ISO8601")
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"], errors="coerce", format="ISO8601").dt.date
    frame["date_of_birth"] = frame["date_of_birth"].where(frame["date_of_birth"].notna(), None)
    return frame
