"""The `meta_capi` connection type: a hook Airflow finds through this package's provider metadata.

The hook is the one path from the connection to a Graph API client: tasks, `graph_api_config()` and
the UI's Test button all read the connection through `MetaCapiHook.get_settings()`, which hands its
fields to the core's checks (ConfigError names the connection and the field).

The connection form (labels, extra fields) is declared in `provider.py`, as Airflow 3.2+ wants;
`test_connection()` is the UI's Test button: it checks that the base URL answers like the Graph API
and, when the connection holds a test pixel id and a token, that the token can read that pixel.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog
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

    Under a worker the task process sends its lines to the supervisor, which masks them with the Task
    SDK's masker: `airflow.sdk.log.mask_secret` registers there (and tells the supervisor). Under
    `airflow dags test` (Airflow 3.3.2) the task runs inside the CLI process, whose logging airflow-core
    set up without masking: the root handler has no masker filter (and the SDK masker's filter is
    switched off unless `airflow tasks test` switched it on), the structlog chain has no masking step.
    A secret registered only with the SDK was printed as it is; `_mask_this_process` closes that gap.
    airflow-core's own masker (another object) is told too, for the handlers that filter with it.
    """
    forms = secret_forms(secret)
    for form in forms:
        sdk_mask_secret(form)
    try:
        from airflow._shared.secrets_masker import mask_secret as core_mask_secret
    except ImportError:  # a worker with the Task SDK only
        pass
    else:
        for form in forms:
            core_mask_secret(form)
    _mask_this_process()


def _mask_this_process() -> None:
    from airflow.sdk._shared.secrets_masker import SecretsMasker, _secrets_masker
    from airflow.sdk.log import mask_logs

    # What `airflow tasks test` does; a worker's supervisor masks with redact(), which ignores it.
    SecretsMasker.enable_log_masking()
    masker = _secrets_masker()
    for handler in logging.getLogger().handlers:  # stdlib records (all of ours) are filtered per handler
        if masker not in handler.filters:
            handler.addFilter(masker)
    # Loggers already made hold this very list, so an insertion reaches them; a new list would not.
    processors = structlog.get_config().get("processors")
    if isinstance(processors, list) and processors and mask_logs not in processors:
        processors.insert(len(processors) - 1, mask_logs)  # before the renderer


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
