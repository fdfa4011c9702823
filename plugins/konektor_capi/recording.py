"""Writes outcomes to sync_logs, durably, one batch at a time."""

from __future__ import annotations

import io

import sqlalchemy as sa
from psycopg2 import errors as pg_errors
from psycopg2.extensions import encodings

from konektor_capi import sql
from konektor_capi.outcome_counts import OutcomeCounts
from konektor_capi.outcomes import COLUMNS, Outcomes
from konektor_capi.tuning import COPY_CHUNK

_COPY_SYNC_LOGS = f"COPY sync_logs ({', '.join(COLUMNS)}) FROM STDIN"
_COPY_STAGING = f"COPY sync_logs_staging ({', '.join(COLUMNS)}) FROM STDIN"


class OutcomeRecorder:
    """Holds one connection for a task; each `record` call is its own committed transaction, so a
    crash loses at most the batch whose answer was in flight.

    A batch is first COPied straight into sync_logs: almost every pair is recorded for the first
    time, and a plain COPY costs half of an INSERT ... ON CONFLICT. A batch with a row already there
    (a retry of a failed event) fails that COPY on the primary key, is rolled back whole, and goes
    through the staging table and the upsert instead.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._raw = engine.raw_connection()
        self._conn = self._raw.driver_connection
        self._codec = encodings[self._conn.encoding]
        with self._conn.cursor() as cur:
            cur.execute(sql.load("create_staging"))
        self._conn.commit()
        self.counts = OutcomeCounts()  # of what was recorded (committed)
        self.upserts = 0

    def record(self, outcomes: Outcomes) -> None:
        if len(outcomes) == 0:
            return
        # Bytes in the connection's encoding, as psycopg2 would send text: a StringIO would hold the
        # lines at 4 bytes a character (a page's 25k skips: 20 MB instead of 5) and be encoded again.
        # "replace": a character the database cannot hold (a lone surrogate, or anything outside a
        # non-UTF-8 server encoding) in Meta's text becomes "?" instead of losing the batch's outcomes.
        lines = outcomes.copy_lines().encode(self._codec, "replace")
        try:
            try:
                with self._conn.cursor() as cur:
                    cur.copy_expert(_COPY_SYNC_LOGS, io.BytesIO(lines), size=COPY_CHUNK)
                self._conn.commit()
            except pg_errors.UniqueViolation:
                self._conn.rollback()
                self.upserts += 1
                with self._conn.cursor() as cur:
                    cur.copy_expert(_COPY_STAGING, io.BytesIO(lines), size=COPY_CHUNK)
                    cur.execute(sql.load("upsert_sync_logs"))
                self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise
        self.counts.add(outcomes)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> OutcomeRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
