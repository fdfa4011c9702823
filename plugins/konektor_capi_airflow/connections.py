"""Reads the `konektor_db` and `meta_capi` connections (or their AIRFLOW_CONN_* variables).

Only reading happens here; what the fields mean, and whether they make sense, is the core's
(`konektor_capi.connection_settings`). A connection that is missing, unreadable or wrong raises
ConfigError naming the connection and the field: there is no default database and no default endpoint.
"""

from __future__ import annotations

import json
import os

import sqlalchemy as sa
from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowNotFoundException

from konektor_capi.config_error import ConfigError
from konektor_capi.connection_settings import postgres_url
from konektor_capi.graph_client import GraphApiConfig

KONEKTOR_DB = "konektor_db"
META_CAPI = "meta_capi"


def read_connection(conn_id: str) -> Connection:
    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        raise _unreadable(conn_id) from None


def _unreadable(conn_id: str) -> ConfigError:
    # Airflow reports an AIRFLOW_CONN_* variable it cannot parse as a connection that "isn't defined";
    # say which of the two it is. Never quote the value: it may hold a password.
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = os.environ.get(variable)
    if raw is None:
        return ConfigError("", f"is not defined: set {variable} or add it under Admin > Connections", conn_id)
    if not raw.strip():
        return ConfigError(variable, "is empty", conn_id)
    if raw.lstrip().startswith("{"):
        try:
            json.loads(raw)
        except ValueError as exc:
            return ConfigError(variable, f"is not valid JSON ({exc.msg} at character {exc.pos})", conn_id)
    return ConfigError(variable, "is set, but Airflow cannot read a connection from it", conn_id)


def konektor_db_url(conn_id: str = KONEKTOR_DB) -> sa.URL:
    conn = read_connection(conn_id)
    try:
        return postgres_url(conn.conn_type, conn.host, conn.schema, conn.login, conn.password, conn.port,
                            conn.extra)  # fmt: skip
    except ConfigError as exc:
        raise exc.of(conn_id) from None


def graph_api_config(conn_id: str = META_CAPI) -> GraphApiConfig:
    """The Graph API settings, read the one way there is: through the hook."""
    from konektor_capi_airflow.hooks import MetaCapiHook

    return MetaCapiHook(conn_id).get_config()
