"""Connection fields -> settings: every malformed form fails naming its field, nothing falls back."""

from __future__ import annotations

import json

import pytest

from konektor_capi.concurrency import DEFAULT_CONCURRENCY
from konektor_capi.config_error import ConfigError
from konektor_capi.connection_settings import meta_capi_settings, postgres_url
from konektor_capi.graph_client import GraphApiConfig
from konektor_capi.mapping import EventMapping

pytestmark = pytest.mark.unit

HOST = "https://graph.example"


def settings(extra=None, host=HOST, conn_type="http", schema=None, port=None):
    return meta_capi_settings(conn_type, host, schema, port, extra)


def error_of(**kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        settings(**kwargs)
    return str(caught.value)


def test_a_good_connection_with_every_key() -> None:
    extra = {"api_version": "v24.0", "connect_timeout": 1.5, "read_timeout": "7", "max_retries": 0,
             "backoff_base": 0.1, "backoff_cap": 2, "test_pixel_id": "1", "max_in_flight": "3",
             "event_names": {"won": "CompleteRegistration"},
             "messaging_event_names": {"won": "AddToCart"}}  # fmt: skip
    got = settings(json.dumps(extra), host=HOST + "/")
    assert got.graph.base_url == HOST and got.graph.api_version == "v24.0"
    assert (got.graph.connect_timeout, got.graph.read_timeout) == (1.5, 7.0)
    assert (got.graph.backoff.max_retries, got.graph.backoff.base, got.graph.backoff.cap) == (0, 0.1, 2.0)
    assert got.graph.max_in_flight == 3
    assert got.mapping.crm["won"] == "CompleteRegistration" and got.mapping.messaging["won"] == "AddToCart"


def test_defaults_apply_to_unset_keys_only() -> None:
    got = settings({"api_version": "", "read_timeout": None})  # what a UI form stores for empty fields
    assert got.graph == GraphApiConfig(base_url=HOST)
    assert got.mapping == EventMapping()


def test_airflow_uri_form_takes_scheme_and_port_from_the_connection() -> None:
    # meta-capi://graph-emulator:8765/http?api_version=v25.0
    got = settings(
        {"api_version": "v25.0"}, conn_type="meta_capi", host="graph-emulator", schema="http", port=8765
    )
    assert got.graph.base_url == "http://graph-emulator:8765"


def test_ui_prefixed_keys_are_read() -> None:
    got = settings({"extra__meta_capi__api_version": "v23.0", "extra__meta_capi__test_pixel_id": "9"})
    assert got.graph.api_version == "v23.0" and got.extra["test_pixel_id"] == "9"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conn_type": "postgres"}, "conn_type 'postgres' is not one of http, https, meta_capi"),
        ({"conn_type": None}, "conn_type None is not one of http, https, meta_capi"),
        ({"host": None}, "host is empty: give the Graph API base URL"),
        ({"host": "graph.facebook.com"}, "host 'graph.facebook.com' has no scheme: write it as "
                                         "https://graph.facebook.com"),
        ({"host": "ftp://graph.facebook.com"}, "host 'ftp://graph.facebook.com' is not an http:// or https://"),
        ({"host": "https://"}, "host 'https://' has no host name"),
        ({"host": "https://graph.example:port"}, "host 'https://graph.example:port' is not a valid URL"),
        ({"host": "https://graph.example/?x=1"}, "must not have a query or fragment"),
        ({"extra": "{not json"}, "extra is not valid JSON (Expecting property name enclosed"),
        ({"extra": "[1]"}, "extra must be a JSON object, not list"),
        ({"extra": {"api_version": "25"}}, "extra.api_version '25' is not like 'v25.0'"),
        ({"extra": {"api_version": 25.0}}, "extra.api_version 25.0 is not like 'v25.0'"),
        ({"extra": {"api_version": "v25"}}, "extra.api_version 'v25' is not like 'v25.0'"),
        ({"extra": {"apiversion": "v25.0"}}, "extra has unknown key(s) 'apiversion'; known: api_version, "),
        ({"extra": {"read_timeout": "ten"}}, "extra.read_timeout 'ten' is not a number"),
        ({"extra": {"read_timeout": True}}, "extra.read_timeout True is not a number"),
        ({"extra": {"connect_timeout": "nan"}}, "extra.connect_timeout 'nan' is not a number"),
        ({"extra": {"connect_timeout": 0}}, "extra.connect_timeout 0 must be greater than 0"),
        ({"extra": {"read_timeout": -1}}, "extra.read_timeout -1 must be greater than 0"),
        ({"extra": {"backoff_base": "0"}}, "extra.backoff_base '0' must be greater than 0"),
        ({"extra": {"backoff_cap": [1]}}, "extra.backoff_cap [1] is not a number"),
        ({"extra": {"max_retries": -1}}, "extra.max_retries -1 is not a whole number >= 0"),
        ({"extra": {"max_retries": 2.5}}, "extra.max_retries 2.5 is not a whole number >= 0"),
        ({"extra": {"max_retries": "many"}}, "extra.max_retries 'many' is not a number"),
        ({"extra": {"max_in_flight": 0}}, "extra.max_in_flight 0 must be at least 1"),
        ({"extra": {"max_in_flight": 1.5}}, "extra.max_in_flight 1.5 is not a whole number >= 0"),
        ({"extra": {"event_names": {"won": "Purchased"}}},
         "extra.event_names.won 'Purchased' is not a Meta standard event: one of AddPaymentInfo, "),
        ({"extra": {"event_names": {"won": None}}}, "extra.event_names.won None is not a Meta standard"),
        ({"extra": {"event_names": ["Lead"]}},
         "extra.event_names must be an object of lead status -> event name, not a list"),
        ({"extra": {"event_names": "Lead"}}, "extra.event_names must be an object of lead status"),
        ({"extra": {"event_names": {"": "Lead"}}}, "extra.event_names has an empty lead status"),
        ({"extra": {"messaging_event_names": {"new": "Lead"}}},
         "extra.messaging_event_names.new 'Lead' is not a business-messaging event: one of AddToCart, "),
        ({"extra": {"messaging_event_names": 3}}, "extra.messaging_event_names must be an object"),
    ],
)  # fmt: skip
def test_each_malformed_field_is_named(kwargs, message) -> None:
    assert message in error_of(**kwargs)


def test_standard_and_messaging_names_are_accepted() -> None:
    names = ["AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact",
             "CustomizeProduct", "Donate", "FindLocation", "InitiateCheckout", "Lead", "Purchase", "Schedule",
             "Search", "StartTrial", "SubmitApplication", "Subscribe", "ViewContent"]  # fmt: skip
    mapping = settings({"event_names": {f"s{i}": n for i, n in enumerate(names)},
                        "messaging_event_names": {"new": "LeadSubmitted"}}).mapping  # fmt: skip
    assert [mapping.crm[f"s{i}"] for i in range(len(names))] == names


def test_the_error_says_which_connection() -> None:
    with pytest.raises(ConfigError) as caught:
        settings({"api_version": "25"})
    assert (
        str(caught.value.of("meta_capi"))
        == "connection 'meta_capi': extra.api_version '25' is not like 'v25.0'"
    )
    assert caught.value.field == "extra.api_version"


def test_a_password_in_the_host_is_never_shown() -> None:
    message = error_of(host="https://user:hunter2secret@graph.example")
    assert "hunter2secret" not in message and "user:" not in message
    assert message == "host 'https://graph.example' must not hold a user or password"
    assert "hunter2secret" not in error_of(host="ftp://u:hunter2secret@graph.example")
    assert error_of(host="u:hunter2secret@graph.example") == (
        "host 'graph.example' has no scheme: write it as https://graph.example"
    )
    assert "hunter2secret" not in error_of(host="https://u:hunter2secret@graph.example:port")


def test_broken_extra_json_is_not_quoted() -> None:
    assert "hunter2secret" not in error_of(extra='{"password": "hunter2secret"')


def test_postgres_url_reads_a_socket_uri_and_refuses_anything_else() -> None:
    url = postgres_url("postgres", None, "konektor", "me", "pw", None, {"host": "/tmp/sock"})
    assert (url.drivername, url.database, url.query["host"]) == (
        "postgresql+psycopg2",
        "konektor",
        "/tmp/sock",
    )
    assert postgres_url("postgresql", "db", "k", None, None, 5432, None).port == 5432
    for conn_type in ("mysql", "sqlite", "", None):
        with pytest.raises(ConfigError, match="is not PostgreSQL: give a postgresql://") as caught:
            postgres_url(conn_type, "db", "k", "me", "hunter2secret", 5432, None)
        assert "hunter2secret" not in str(caught.value)
    with pytest.raises(ConfigError, match="extra is not valid JSON"):
        postgres_url("postgres", "db", "k", "me", "pw", 5432, "{broken")


def test_where_a_task_delivers_from_is_the_connections_choice_auto_by_default() -> None:
    assert settings({}).concurrency == DEFAULT_CONCURRENCY
    assert settings({"delivery": "thread"}).concurrency.delivery == "thread"
    assert settings({"extra__meta_capi__delivery": "process"}).concurrency.delivery == "process"
    assert "extra.delivery 'fork' is not one of auto, process, thread" in error_of(extra={"delivery": "fork"})
