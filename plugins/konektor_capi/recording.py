"""Writes outcomes to sync_logs, durably, one batch at a time."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import sqlalchemy as sa

from konektor_capi import sql
from konektor_capi.db import copy_frame
from konektor_capi.outcomes import COLUMNS


class OutcomeRecorder:
    """Holds one connection for a task; each `record` call is its own committed transaction, so a
    crash loses at most the batch whose answer was in flight."""

    def __init__(self, engine: sa.Engine) -> None:
        self._raw = engine.raw_connection()
        self._conn = self._raw.driver_connection
        with self._conn.cursor() as cur:
            cur.execute(sql.load("create_staging"))
        self._conn.commit()
        self.counts: Counter = Counter()
        self.reasons: Counter = Counter()

    def record(self, outcomes: pd.DataFrame) -> None:
        if outcomes.empty:
            return
        frame = outcomes.loc[:, list(COLUMNS)]
        try:
            with self._conn.cursor() as cur:
                copy_frame(cur, "sync_logs_staging", frame)
                cur.execute(sql.load("upsert_sync_logs"))
            self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise
        names = frame["event_name"].fillna("-")
        self.counts.update(zip(frame["pixel_id"], names, frame["status"], strict=True))
        self.reasons.update(r for r in frame["reason"].tolist() if isinstance(r, str))

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> OutcomeRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
