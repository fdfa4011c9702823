"""Reads the `konektor_db` and `meta_capi` connections (or their AIRFLOW_CONN_* variables)."""

from __future__ import annotations

import sqlalchemy as sa
from airflow.sdk import Connection

from konektor_capi.graph_client import GraphApiConfig

KONEKTOR_DB = "konektor_db"
META_CAPI = "meta_capi"


def konektor_db_url(conn_id: str = KONEKTOR_DB) -> sa.URL:
    conn = Connection.get(conn_id)
    # A query such as ?host=/tmp/socket (a Unix socket) arrives in extra; libpq takes it as-is.
    query = {k: str(v) for k, v in conn.extra_dejson.items()}
    return sa.URL.create(
        "postgresql+psycopg2",
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema or None,
        query=query,
    )


def graph_api_config(conn_id: str = META_CAPI) -> GraphApiConfig:
    try:
        conn = Connection.get(conn_id)
    except Exception:  # no such connection: Meta's public endpoint with the defaults
        return GraphApiConfig()
    host = conn.host or ""
    if host and "://" not in host:
        host = f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")
    return GraphApiConfig.from_mapping(host or None, conn.extra_dejson)


def event_mapping_config(conn_id: str = META_CAPI) -> dict:
    try:
        return Connection.get(conn_id).extra_dejson
    except Exception:
        return {}
