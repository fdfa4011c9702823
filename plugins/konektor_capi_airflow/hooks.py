"""The `meta_capi` connection type: a hook Airflow finds through this package's provider metadata.

The hook is the one path from the connection to a Graph API client: tasks, `graph_api_config()` and
the UI's Test button all read the connection through `MetaCapiHook.get_settings()`, which hands its
fields to the core's checks (ConfigError names the connection and the field).

The connection form (labels, extra fields) is declared in `provider.py`, as Airflow 3.2+ wants;
`test_connection()` is the UI's Test button: it checks that the base URL answers like the Graph API
and, when the connection holds a test pixel id and a token, that the token can read that pixel.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret as sdk_mask_secret

from konektor_capi.config_error import ConfigError
from konektor_capi.connection_settings import MetaCapiSettings, meta_capi_settings
from konektor_capi.graph_client import GraphApiClient, GraphApiConfig
from konektor_capi.mapping import EventMapping
from konektor_capi.pixel_check import check_base_url, check_pixel
from konektor_capi.scrub import secret_forms
from konektor_capi_airflow.connections import META_CAPI, read_connection

TEST_PIXEL_KEY = "test_pixel_id"


def mask_secret(secret: str) -> None:
    """Have every spelling of `secret` masked in whatever log output this task's lines reach.

    Airflow 3 has two maskers: the Task SDK's (`airflow.sdk.log.mask_secret`; under a worker it also
    tells the supervisor, which writes the task's log file through it) and airflow-core's, which filters
    the stdlib handlers that `airflow dags test` (and any other in-process run) writes the task's lines
    through. Registering with the SDK alone leaves the second path unmasked, so register with both.
    """
    forms = secret_forms(secret)
    for form in forms:
        sdk_mask_secret(form)
    try:
        from airflow._shared.secrets_masker import mask_secret as core_mask_secret
    except ImportError:  # a worker with the Task SDK only: its supervisor masks with the SDK's
        return
    for form in forms:
        core_mask_secret(form)


class MetaCapiHook(BaseHook):
    """Graph API settings (base URL, API version, timeouts) and event mapping of the connection.

    Access tokens are per pixel (Konektor's `meta_pixels`); the connection's password holds a token
    only to try the Test button with, and the sync never reads it.
    """

    conn_name_attr = "meta_capi_conn_id"
    default_conn_name = META_CAPI
    conn_type = "meta_capi"
    hook_name = "Meta Conversions API"

    def __init__(self, meta_capi_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.meta_capi_conn_id = meta_capi_conn_id

    def get_settings(self) -> MetaCapiSettings:
        """The connection, checked; ConfigError when it is missing, unreadable or makes no sense."""
        return self._read()[1]

    def _read(self) -> tuple[Any, MetaCapiSettings]:
        conn = read_connection(self.meta_capi_conn_id)
        try:
            return conn, meta_capi_settings(conn.conn_type, conn.host, conn.schema, conn.port, conn.extra)
        except ConfigError as exc:
            raise exc.of(self.meta_capi_conn_id) from None

    def get_config(self) -> GraphApiConfig:
        return self.get_settings().graph

    def get_mapping(self) -> EventMapping:
        return self.get_settings().mapping

    def get_conn(self) -> GraphApiClient:
        return GraphApiClient(self.get_config())

    def test_connection(self) -> tuple[bool, str]:
        try:
            conn, settings = self._read()
        except ConfigError as exc:  # the UI shows the message; never a traceback
            return False, str(exc)
        except Exception as exc:
            return False, f"cannot read connection {self.meta_capi_conn_id!r}: {type(exc).__name__}"
        token = (conn.password or "").strip()
        if token:
            mask_secret(token)
        pixel_id = str(settings.extra.get(TEST_PIXEL_KEY) or "").strip()
        client = GraphApiClient(settings.graph)
        try:
            base = check_base_url(client)
            if not base.ok:
                return False, base.message
            if not pixel_id:
                hint = " (set a test pixel id" + ("" if token else " and a token") + " to check a token)"
                return True, base.message + hint
            if not token:
                return True, f"{base.message}; pixel {pixel_id} not checked: no test access token given"
            pixel = check_pixel(client, pixel_id, token)
        finally:
            client.close()
        if pixel.ok:
            return True, f"{base.message}; pixel {pixel_id} OK: {pixel.message}"
        return False, f"pixel {pixel_id}: {pixel.message}"
