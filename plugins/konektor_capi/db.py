"""Database access for the pipeline: engines, schema set-up and bulk writes through psycopg2."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from konektor_capi import sql


def make_engine(url: str | sa.URL) -> sa.Engine:
    # pool_pre_ping: an hourly job meets connections the server or a proxy closed in between.
    return sa.create_engine(url, pool_pre_ping=True, future=True)


def ensure_pipeline_schema(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(sql.load("pipeline_schema"))


@contextmanager
def raw_connection(engine: sa.Engine) -> Iterator:
    """A psycopg2 connection for COPY and server-side cursors, returned to the pool afterwards."""
    conn = engine.raw_connection()
    try:
        yield conn.driver_connection
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def copy_rows(cur, table: str, columns: Iterable[str], rows: Iterable[Iterable]) -> None:
    """COPY rows into a (temporary) table: the fastest way to hand PostgreSQL many rows."""
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(_copy_value(v) for v in row))
        buf.write("\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, float) and value != value:  # NaN
        return "\\N"
    text = str(value)
    if any(c in text for c in "\\\t\n\r"):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text
