"""Database access for the pipeline: engines, schema set-up and bulk writes through psycopg2."""

from __future__ import annotations

import io
from collections.abc import Iterator
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


# COPY's text format: backslash, tab, newline and carriage return must be escaped inside values.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def copy_text_column(values) -> list[str]:
    """One column in COPY text format, built column-wise: per-value Python only where it must be."""
    if values.dtype.kind in "iub":
        return values.astype(str).tolist()
    if values.dtype.kind == "f":
        text = values.astype(str)
        return text.where(values.notna(), NULL).tolist()
    return [NULL if v is None or v != v else str(v).translate(_COPY_ESCAPES) for v in values.tolist()]


def copy_frame(cur, table: str, frame) -> None:
    """COPY a DataFrame into a (temporary) table: the fastest way to hand PostgreSQL many rows."""
    columns = [copy_text_column(frame[c]) for c in frame.columns]
    body = "\n".join(map("\t".join, zip(*columns, strict=True)))
    buf = io.StringIO(body + "\n" if body else "")
    cur.copy_expert(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN", buf)
