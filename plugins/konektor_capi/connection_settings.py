"""What a connection's fields mean, checked: pure functions from the fields to our settings.

The Airflow side only reads a connection's fields and hands them here, so the rules are the same
wherever a connection comes from, and testable without Airflow. Every rule violated raises ConfigError
naming the field; nothing falls back to a default endpoint or mapping. Messages never quote a password.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from konektor_capi.concurrency import DEFAULT_CONCURRENCY, DELIVERY_MODES, Concurrency
from konektor_capi.config_error import ConfigError
from konektor_capi.graph_client import GRAPH_KEYS, GraphApiConfig
from konektor_capi.mapping import MAPPING_KEYS, EventMapping

META_CAPI_CONN_TYPES = ("http", "https", "meta_capi")
# Read by the connection's Test button only; the sync ignores it.
TEST_BUTTON_KEYS = frozenset({"test_pixel_id"})
# Where a sync task delivers from (concurrency.py): "auto" (default), "thread" or "process".
CONCURRENCY_KEYS = frozenset({"delivery"})
META_CAPI_EXTRA_KEYS = GRAPH_KEYS | frozenset(MAPPING_KEYS) | TEST_BUTTON_KEYS | CONCURRENCY_KEYS
# Older Airflow UIs store a custom form field as extra__<conn_type>__<field>.
_UI_PREFIX = "extra__meta_capi__"
POSTGRES_CONN_TYPES = ("postgres", "postgresql")


@dataclass(frozen=True)
class MetaCapiSettings:
    graph: GraphApiConfig
    mapping: EventMapping
    extra: Mapping  # the checked extra, UI prefixes removed (the Test button reads test_pixel_id)
    concurrency: Concurrency = DEFAULT_CONCURRENCY


def meta_capi_settings(
    conn_type: str | None,
    host: str | None,
    schema: str | None = None,
    port: int | None = None,
    extra: str | Mapping | None = None,
) -> MetaCapiSettings:
    """The Graph API settings and event mapping of a `meta_capi` connection's fields.

    `host` is a full URL (https://graph.facebook.com), or, in Airflow's URI form
    (meta-capi://graph-emulator:8765/http?api_version=v25.0), a bare host whose scheme is the
    connection's `schema` and whose port is `port`.
    """
    if (conn_type or "") not in META_CAPI_CONN_TYPES:
        raise ConfigError("conn_type", f"{conn_type!r} is not one of {', '.join(META_CAPI_CONN_TYPES)}")
    options = _extra_object(extra)
    options = {key.removeprefix(_UI_PREFIX): value for key, value in options.items()}
    unknown = sorted(set(options) - META_CAPI_EXTRA_KEYS)
    if unknown:
        names, known = ", ".join(map(repr, unknown)), ", ".join(sorted(META_CAPI_EXTRA_KEYS))
        raise ConfigError("extra", f"has unknown key(s) {names}; known: {known}")
    url = (host or "").strip()
    if url and "://" not in url and schema:
        url = f"{schema}://{url}" + (f":{port}" if port else "")
    return MetaCapiSettings(
        GraphApiConfig.from_mapping(url, options),
        EventMapping.from_config(options),
        options,
        _concurrency(options),
    )


def _concurrency(options: Mapping) -> Concurrency:
    delivery = options.get("delivery", "auto")
    if delivery not in DELIVERY_MODES:
        modes = ", ".join(DELIVERY_MODES)
        raise ConfigError("extra.delivery", f"{str(delivery)[:40]!r} is not one of {modes}")
    return Concurrency(delivery=delivery)


def postgres_url(
    conn_type: str | None,
    host: str | None,
    schema: str | None,
    login: str | None,
    password: str | None,
    port: int | None,
    extra: str | Mapping | None,
) -> sa.URL:
    """The SQLAlchemy URL of a `konektor_db` connection's fields; it must be PostgreSQL."""
    if (conn_type or "") not in POSTGRES_CONN_TYPES:
        raise ConfigError(
            "conn_type",
            f"{conn_type!r} is not PostgreSQL: give a postgresql://user:password@host:5432/db URI",
        )
    # A query such as ?host=/tmp/socket (a Unix socket) arrives in extra; libpq takes it as-is.
    query = {key: str(value) for key, value in _extra_object(extra).items()}
    return sa.URL.create(
        "postgresql+psycopg2",
        username=login or None,
        password=password or None,
        host=host or None,
        port=port or None,
        database=schema or None,
        query=query,
    )


def _extra_object(extra: str | Mapping | None) -> dict:
    if extra is None or (isinstance(extra, str) and not extra.strip()):
        return {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError as exc:
            # only where it broke, not the text: it may hold a secret
            raise ConfigError("extra", f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(extra, Mapping):
        raise ConfigError("extra", f"must be a JSON object, not {type(extra).__name__}")
    return dict(extra)
