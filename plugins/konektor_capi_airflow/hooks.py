"""The `meta_capi` connection type: a hook Airflow finds through this package's provider metadata.

The connection form (labels, extra fields) is declared in `provider.py`, as Airflow 3.2+ wants;
`test_connection()` is the UI's Test button: it checks that the base URL answers like the Graph API
and, when the connection holds a test pixel id and a token, that the token can read that pixel.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from konektor_capi.graph_client import GraphApiClient, GraphApiConfig
from konektor_capi.pixel_check import check_base_url, check_pixel
from konektor_capi_airflow.connections import META_CAPI, graph_api_config

TEST_PIXEL_KEY = "test_pixel_id"


class MetaCapiHook(BaseHook):
    """Graph API settings (base URL, API version, timeouts) of the Conversions API connection.

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

    def get_config(self) -> GraphApiConfig:
        self.get_connection(self.meta_capi_conn_id)  # a missing connection is an error here
        return graph_api_config(self.meta_capi_conn_id)

    def get_conn(self) -> GraphApiClient:
        return GraphApiClient(self.get_config())

    def test_connection(self) -> tuple[bool, str]:
        try:
            conn = self.get_connection(self.meta_capi_conn_id)
            config = graph_api_config(self.meta_capi_conn_id)
        except Exception as exc:  # the UI shows the message; never a traceback
            return False, f"cannot read connection {self.meta_capi_conn_id!r}: {type(exc).__name__}"
        token = (conn.password or "").strip()
        if token:
            mask_secret(token)
        extra = conn.extra_dejson
        pixel_id = str(extra.get(TEST_PIXEL_KEY) or extra.get(f"extra__{self.conn_type}__{TEST_PIXEL_KEY}")
                       or "").strip()  # fmt: skip
        client = GraphApiClient(config)
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
