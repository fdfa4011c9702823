"""Database access for the pipeline: engines, schema set-up and raw psycopg2 connections."""

from __future__ import annotations

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
