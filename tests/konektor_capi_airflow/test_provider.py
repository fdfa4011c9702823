"""The package is an Airflow provider: the `meta_capi` connection type, its form and its Test button."""

from __future__ import annotations

import json

import pytest

from devtools.graph_emulator.process import EmulatorAdmin, start_emulator

# Airflow's own Connection.get_hook() (the Test button's path) still calls the deprecated accessor.
pytestmark = pytest.mark.filterwarnings("ignore:ProvidersManager.hooks is deprecated")

PIXEL = "5000000000000001"
TOKEN = "EAAproviderSECRETtoken"


@pytest.fixture(scope="module")
def emulator():
    with start_emulator() as emu:
        EmulatorAdmin(emu.base_url).register_pixels({PIXEL: TOKEN})
        yield emu


@pytest.fixture(scope="module")
def providers(airflow_home):
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


@pytest.mark.unit
def test_provider_info_is_valid_for_the_installed_airflow(providers):
    from airflow.providers_manager import _create_provider_info_schema_validator

    from konektor_capi_airflow.provider import get_provider_info

    info = get_provider_info()
    _create_provider_info_schema_validator().validate(info)
    assert "konektor-capi-sync" in providers.providers  # found through the entry point
    assert providers.providers["konektor-capi-sync"].data["package-name"] == "konektor-capi-sync"


@pytest.mark.unit
def test_meta_capi_connection_type_is_registered_with_our_hook(airflow_home):
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["meta_capi"]
    assert hook is not None
    assert hook.hook_class_name == "konektor_capi_airflow.hooks.MetaCapiHook"
    assert hook.connection_id_attribute_name == "meta_capi_conn_id"
    assert hook.hook_name == "Meta Conversions API"
    assert hook.package_name == "konektor-capi-sync"


@pytest.mark.unit
def test_connection_form_relabels_host_and_adds_the_test_fields(airflow_home):
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    [meta] = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "meta_capi"]
    fields = meta.standard_fields
    assert fields.host.title == "Graph API base URL" and not fields.host.hidden
    assert fields.password.title == "Test access token"
    assert fields.port.hidden and fields.login.hidden and fields.url_schema.hidden
    assert {"api_version", "test_pixel_id"} <= set(meta.extra_fields)
    assert meta.extra_fields["api_version"]["value"] == "v25.0"


def ui_test(monkeypatch, host: str, token: str | None, pixel_id: str | None = PIXEL) -> tuple[bool, str]:
    """What the UI's Test button does: a transient connection exported as AIRFLOW_CONN_<ID>, then
    `Connection.test_connection()`, which finds the hook through the providers manager."""
    from airflow.models.connection import Connection

    extra = {"api_version": "v25.0", **({"test_pixel_id": pixel_id} if pixel_id else {})}
    conn = Connection(conn_id="meta_capi_ui_test", conn_type="meta_capi", host=host, password=token,
                      extra=json.dumps(extra))  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_META_CAPI_UI_TEST", conn.get_uri())
    return conn.test_connection()


@pytest.mark.integration
def test_test_button_passes_with_a_token_that_reads_the_pixel(monkeypatch, airflow_home, emulator):
    ok, message = ui_test(monkeypatch, emulator.base_url, TOKEN)
    assert ok, message
    assert f"pixel {PIXEL} OK: Emulated pixel {PIXEL}" in message
    assert TOKEN not in message


@pytest.mark.integration
def test_test_button_fails_with_a_bad_token_and_does_not_show_it(monkeypatch, airflow_home, emulator):
    bad = "EAAwrongSECRETtoken"
    ok, message = ui_test(monkeypatch, emulator.base_url, bad)
    assert not ok
    assert message.startswith(f"pixel {PIXEL}: access token invalid or expired")
    assert bad not in message and TOKEN not in message


@pytest.mark.integration
def test_test_button_without_a_test_pixel_checks_the_base_url_only(monkeypatch, airflow_home, emulator):
    ok, message = ui_test(monkeypatch, emulator.base_url, None, pixel_id=None)
    assert ok and "answers at" in message and "set a test pixel id" in message


@pytest.mark.unit
def test_test_button_fails_when_the_base_url_does_not_answer(monkeypatch, airflow_home):
    ok, message = ui_test(monkeypatch, "http://127.0.0.1:9", TOKEN)
    assert not ok and message.startswith("Graph API unreachable at http://127.0.0.1:9")
    assert TOKEN not in message


@pytest.mark.integration
def test_hook_reads_its_connection_like_the_dag(monkeypatch, airflow_home, emulator):
    from konektor_capi_airflow.hooks import MetaCapiHook

    extra = {"api_version": "v24.0", "read_timeout": 7}
    conn = {"conn_type": "meta_capi", "host": emulator.base_url, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_META_CAPI", json.dumps(conn))
    config = MetaCapiHook().get_config()
    assert (config.base_url, config.api_version, config.read_timeout) == (emulator.base_url, "v24.0", 7.0)
