"""The Graph API emulator, driven as a real subprocess over HTTP (see devtools/graph_emulator)."""

from __future__ import annotations

import hashlib
import http.client
import itertools
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import requests

from devtools.graph_emulator.process import EmulatorAdmin, EmulatorError, EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

PIXEL = "1111111111"
TOKEN = "tok-1111-SECRET-do-not-log"
PIXEL2 = "2222222222"
TOKEN2 = "tok-2222-SECRET-do-not-log"
EXPIRED_PIXEL = "3333333333"
EXPIRED_TOKEN = "tok-3333-SECRET-expired"
ERROR_KEYS = {"message", "type", "code", "is_transient", "error_user_title", "error_user_msg", "fbtrace_id"}
_ids = itertools.count()


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def make_event(**fields: Any) -> dict[str, Any]:
    n = next(_ids)
    ev: dict[str, Any] = {
        "event_name": "Lead",
        "event_time": int(time.time()) - 60,
        "event_id": f"ev-{n}",
        "action_source": "system_generated",
        "user_data": {
            "em": [sha(f"user{n}@example.com")],
            "ph": [sha("6281234567890")],
            "external_id": [sha(f"lead-{n}")],
        },
        "custom_data": {"event_source": "crm", "lead_event_source": "Konektor"},
    }
    ev.update(fields)
    return ev


def ctwa_event(**fields: Any) -> dict[str, Any]:
    return make_event(
        **{
            "event_name": "LeadSubmitted",
            "action_source": "business_messaging",
            "messaging_channel": "whatsapp",
            "user_data": {"whatsapp_business_account_id": "987654321", "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ"},
            **fields,
        }
    )


def send(
    emu: EmulatorProcess,
    events: Any,
    *,
    pixel: str = PIXEL,
    token: str | None = TOKEN,
    via: str = "body",
    version: str = "v25.0",
    test_event_code: str | None = None,
    session: Any = requests,
    timeout: float = 10,
) -> requests.Response:
    body: dict[str, Any] = {"data": events}
    if test_event_code:
        body["test_event_code"] = test_event_code
    headers: dict[str, str] = {}
    params = None
    if token is not None:
        if via == "body":
            body["access_token"] = token
        elif via == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif via == "query":
            params = {"access_token": token}
    url = f"{emu.base_url}/{version}/{pixel}/events"
    return session.post(url, json=body, headers=headers, params=params, timeout=timeout)


def assert_error(r: requests.Response, code: int, subcode: int | None = None, status: int = 400) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Length"] == str(len(r.content))
    err = r.json()["error"]
    assert set(err) >= ERROR_KEYS, err
    assert err["code"] == code, err
    if subcode is None:
        assert "error_subcode" not in err, err
    else:
        assert err.get("error_subcode") == subcode, err
    return err


def assert_ok(r: requests.Response, n: int) -> dict:
    assert r.status_code == 200, r.text
    assert r.headers["Content-Length"] == str(len(r.content))
    body = r.json()
    assert body["events_received"] == n
    assert body["messages"] == []
    assert isinstance(body["fbtrace_id"], str) and body["fbtrace_id"]
    return body


@pytest.fixture(scope="module")
def emu():
    with start_emulator() as process:
        yield process


@pytest.fixture
def admin(emu: EmulatorProcess):
    client = EmulatorAdmin(emu.base_url)
    client.reset(pixels=True)
    client.register_pixels(
        {
            PIXEL: TOKEN,
            PIXEL2: TOKEN2,
            EXPIRED_PIXEL: {"token": EXPIRED_TOKEN, "status": "expired"},
        }
    )
    yield client
    client.close()


# --------------------------------------------------------------------------------------------------
# process helper, health, success
# --------------------------------------------------------------------------------------------------


def test_process_helper_exposes_url_and_log(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert emu.base_url.startswith("http://127.0.0.1:")
    assert emu.port > 0
    assert emu.log_path.exists()
    assert admin.health()["status"] == "ok"


def test_start_failure_is_reported() -> None:
    with pytest.raises(EmulatorError, match="did not start"):
        start_emulator(extra_args=["--no-such-option"])


def test_success_path_and_stored_event(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    events = [
        make_event(),
        ctwa_event(),
        make_event(event_name="Purchase", custom_data={"value": 150000, "currency": "IDR"}),
    ]
    r = send(emu, events, via="header", test_event_code="TEST123")
    assert_ok(r, 3)
    assert r.headers["x-fb-trace-id"] == r.json()["fbtrace_id"]
    stored = admin.events(pixel_id=PIXEL)
    assert [rec["event"] for rec in stored] == events
    rec = stored[0]
    assert rec["pixel_id"] == PIXEL and rec["test_event_code"] == "TEST123" and rec["api_version"] == "v25.0"
    assert rec["duplicate"] is False
    assert "Authorization" not in rec["headers"] and rec["headers"]["Content-Type"] == "application/json"
    assert TOKEN not in json.dumps(stored)
    assert admin.events(pixel_id=PIXEL2) == []
    assert len(admin.events(test_event_code="TEST123")) == 3
    assert admin.events(test_event_code="OTHER") == []


def test_valid_variants_are_accepted(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    now = int(time.time())
    events = [
        make_event(
            action_source="website",
            event_source_url="https://shop.example/thanks",
            user_data={"em": sha("a@b.co"), "client_user_agent": "Mozilla/5.0"},
        ),
        make_event(action_source="physical_store", event_time=now - 30 * 86400),
        make_event(event_time=now - 6 * 86400),
        make_event(event_time=now + 30),
        make_event(user_data={"fn": sha("budi"), "ln": sha("santoso")}),  # not inside one weak set
        make_event(user_data={"fbc": "fb.1.1700000000000.AbCdEf"}),
        make_event(user_data={"em": [sha("a@b.co"), sha("c@d.co")], "ph": None, "fn": ""}),
        make_event(event_id=None),
        make_event(event_id=12345),
        ctwa_event(),
    ] + [
        ctwa_event(event_name=n, custom_data={"value": 1.5, "currency": "idr"})
        for n in ("Purchase", "InitiateCheckout", "AddToCart", "ViewContent")
    ]
    assert_ok(send(emu, events), len(events))


def test_keep_alive_and_content_length(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    host, port = emu.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        first_sock = None
        for _ in range(3):
            body = orjson.dumps({"data": [make_event()], "access_token": TOKEN})
            conn.request("POST", f"/v25.0/{PIXEL}/events", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            payload = resp.read()
            assert resp.status == 200 and resp.getheader("Content-Length") == str(len(payload))
            assert not resp.will_close
            first_sock = first_sock or conn.sock
            assert conn.sock is first_sock  # same connection every time
    finally:
        conn.close()
    assert admin.stats()["events_received"] == 3


# --------------------------------------------------------------------------------------------------
# tokens and pixels
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["body", "header", "query"])
def test_token_locations(emu: EmulatorProcess, admin: EmulatorAdmin, via: str) -> None:
    assert_ok(send(emu, [make_event()], via=via), 1)


def test_oauth_header_scheme_and_body_precedence(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    r = requests.post(
        f"{emu.base_url}/v25.0/{PIXEL}/events",
        json={"data": [make_event()]},
        headers={"Authorization": f"OAuth {TOKEN}"},
        timeout=10,
    )
    assert_ok(r, 1)


def test_missing_token(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert_error(send(emu, [make_event()], token=None), 190)


@pytest.mark.parametrize("via", ["body", "header", "query"])
def test_wrong_token(emu: EmulatorProcess, admin: EmulatorAdmin, via: str) -> None:
    err = assert_error(send(emu, [make_event()], token="garbage", via=via), 190)
    assert err["message"] == "Invalid OAuth access token - Cannot parse access token"
    assert err["type"] == "OAuthException" and err["is_transient"] is False


def test_expired_token(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert_error(send(emu, [make_event()], pixel=EXPIRED_PIXEL, token=EXPIRED_TOKEN), 190, 463)


def test_pixel_statuses_invalidated_and_no_permission(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.register_pixels(
        {"4444": {"token": "t4", "status": "invalidated"}, "5555": {"token": "t5", "status": "no_permission"}}
    )
    assert_error(send(emu, [make_event()], pixel="4444", token="t4"), 190, 460)
    assert_error(send(emu, [make_event()], pixel="5555", token="t5"), 200)
    assert admin.pixels()["4444"] == {"status": "invalidated"}  # never the token


def test_unregistered_pixel(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    err = assert_error(send(emu, [make_event()], pixel="9999999999", token=TOKEN), 100, 33)
    assert err["message"].startswith("Unsupported post request. Object with ID '9999999999' does not exist")


def test_token_of_another_pixel(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert_error(send(emu, [make_event()], pixel=PIXEL2, token=TOKEN), 100, 33)


def test_non_numeric_pixel(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.register_pixels({"act_abc": TOKEN})
    assert_error(send(emu, [make_event()], pixel="act_abc", token=TOKEN), 100, 33)
    assert_error(send(emu, [make_event()], pixel="me", token=TOKEN), 100, 33)


@pytest.mark.parametrize(
    "path", ["/v25.0/1111111111/other", "/25.0/1111111111/events", "/v25/1111111111/events"]
)
def test_unknown_path(emu: EmulatorProcess, admin: EmulatorAdmin, path: str) -> None:
    r = requests.post(emu.base_url + path, json={"data": [make_event()], "access_token": TOKEN}, timeout=10)
    assert_error(r, 2500)


# --------------------------------------------------------------------------------------------------
# request-level data checks, body formats
# --------------------------------------------------------------------------------------------------


def test_batch_of_1000_ok_and_1001_rejected(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert_ok(send(emu, [make_event() for _ in range(1000)]), 1000)
    err = assert_error(send(emu, [make_event() for _ in range(1001)]), 100)
    assert "max 1000" in err["message"]


@pytest.mark.parametrize("data", [[], None, "", {"event_name": "Lead"}, 5])
def test_empty_or_malformed_data(emu: EmulatorProcess, admin: EmulatorAdmin, data: Any) -> None:
    assert_error(send(emu, data), 100)


def test_missing_data_and_unparseable_body(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    url = f"{emu.base_url}/v25.0/{PIXEL}/events"
    assert_error(requests.post(url, json={"access_token": TOKEN}, timeout=10), 100)
    r = requests.post(
        url,
        data=b'{"data": [',
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert_error(r, 100)


def test_form_encoded_body(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    events = [make_event(), make_event()]
    r = requests.post(
        f"{emu.base_url}/v25.0/{PIXEL}/events",
        timeout=10,
        data={
            "data": orjson.dumps(events).decode(),
            "access_token": TOKEN,
            "test_event_code": "FORM1",
        },
    )
    assert_ok(r, 2)
    stored = admin.events(pixel_id=PIXEL)
    assert [rec["event"] for rec in stored] == events
    assert {rec["test_event_code"] for rec in stored} == {"FORM1"}
    bad = requests.post(
        f"{emu.base_url}/v25.0/{PIXEL}/events", timeout=10, data={"data": "[{not json", "access_token": TOKEN}
    )
    assert_error(bad, 100)


def test_data_as_json_string_in_json_body(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert_ok(send(emu, orjson.dumps([make_event()]).decode()), 1)


def test_chunked_request_body(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    body = orjson.dumps({"data": [make_event()], "access_token": TOKEN})

    def chunks():
        yield body[:10]
        yield body[10:]

    r = requests.post(
        f"{emu.base_url}/v25.0/{PIXEL}/events",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert_ok(r, 1)


# --------------------------------------------------------------------------------------------------
# per-event rules
# --------------------------------------------------------------------------------------------------

DAY = 86400
Mutator = Callable[[dict], Any]


def _ud(**values: Any) -> Mutator:
    return lambda ev: ev.__setitem__("user_data", values)


RULES: list[tuple[str, Mutator, Callable[[], dict], int | None]] = [
    ("missing event_name", lambda ev: ev.pop("event_name"), make_event, 2804901),
    ("empty event_name", lambda ev: ev.update(event_name=""), make_event, 2804901),
    ("event_time string", lambda ev: ev.update(event_time=str(ev["event_time"])), make_event, 2804902),
    ("event_time float", lambda ev: ev.update(event_time=ev["event_time"] + 0.5), make_event, 2804902),
    ("missing event_time", lambda ev: ev.pop("event_time"), make_event, 2804902),
    ("too old", lambda ev: ev.update(event_time=int(time.time()) - 7 * DAY - 120), make_event, 2804003),
    (
        "store too old",
        lambda ev: ev.update(action_source="physical_store", event_time=int(time.time()) - 63 * DAY),
        make_event,
        2804003,
    ),
    ("in the future", lambda ev: ev.update(event_time=int(time.time()) + 180), make_event, 2804004),
    ("milliseconds", lambda ev: ev.update(event_time=int(time.time() * 1000)), make_event, 2804004),
    ("missing action_source", lambda ev: ev.pop("action_source"), make_event, 2804903),
    ("bad action_source", lambda ev: ev.update(action_source="crm"), make_event, 2804903),
    (
        "website without url",
        lambda ev: ev["user_data"].update(client_user_agent="UA") or ev.update(action_source="website"),
        make_event,
        2804904,
    ),
    (
        "website ftp url",
        lambda ev: (
            ev["user_data"].update(client_user_agent="UA")
            or ev.update(action_source="website", event_source_url="ftp://x")
        ),
        make_event,
        2804904,
    ),
    (
        "website without UA",
        lambda ev: ev.update(action_source="website", event_source_url="https://x.co"),
        make_event,
        2804905,
    ),
    ("missing user_data", lambda ev: ev.pop("user_data"), make_event, 2804906),
    ("user_data not object", lambda ev: ev.update(user_data=[sha("x")]), make_event, 2804906),
    ("unhashed em", lambda ev: ev["user_data"].update(em="budi@example.com"), make_event, 2804019),
    ("uppercase hash", lambda ev: ev["user_data"].update(em=sha("x").upper()), make_event, 2804019),
    ("short hash", lambda ev: ev["user_data"].update(ph=sha("x")[:63]), make_event, 2804019),
    (
        "one unhashed in list",
        lambda ev: ev["user_data"].update(ph=[sha("x"), "6281234"]),
        make_event,
        2804019,
    ),
    ("raw external_id", lambda ev: ev["user_data"].update(external_id="lead-42"), make_event, 2804019),
    ("numeric zp", lambda ev: ev["user_data"].update(zp=12345), make_event, 2804019),
    ("raw country", lambda ev: ev["user_data"].update(country="id"), make_event, 2804019),
    (
        "weak location set",
        _ud(ct=sha("jakarta"), country=sha("id"), st=sha("jk"), zp=sha("10110"), client_user_agent="UA"),
        make_event,
        2804907,
    ),
    ("weak db+ua", _ud(db=sha("19900101"), client_user_agent="UA"), make_event, 2804907),
    ("weak fn+ge", _ud(fn=sha("budi"), ge=sha("m")), make_event, 2804907),
    ("weak ln+ge", _ud(ln=sha("santoso"), ge=sha("m")), make_event, 2804907),
    ("weak single ge", _ud(ge=sha("m")), make_event, 2804907),
    ("empty user_data", _ud(), make_event, 2804907),
    (
        "only empty values",
        _ud(em="", ph=[], external_id=None, fn=sha("budi"), ge=sha("m")),
        make_event,
        2804907,
    ),
    ("purchase without value", lambda ev: ev.update(event_name="Purchase"), make_event, 2804009),
    (
        "purchase string value",
        lambda ev: ev.update(event_name="Purchase", custom_data={"value": "10", "currency": "IDR"}),
        make_event,
        2804009,
    ),
    (
        "purchase bad currency",
        lambda ev: ev.update(event_name="Purchase", custom_data={"value": 10, "currency": "RP"}),
        make_event,
        2804009,
    ),
    (
        "purchase no custom_data",
        lambda ev: ev.update(event_name="Purchase", custom_data=None),
        make_event,
        2804009,
    ),
    ("custom_data not object", lambda ev: ev.update(custom_data="crm"), make_event, 2804910),
    ("event_id list", lambda ev: ev.update(event_id=["a"]), make_event, 2804911),
    ("bm wrong channel", lambda ev: ev.update(messaging_channel="messenger"), ctwa_event, 2804908),
    ("bm no channel", lambda ev: ev.pop("messaging_channel"), ctwa_event, 2804908),
    ("bm Lead", lambda ev: ev.update(event_name="Lead"), ctwa_event, 2804066),
    ("bm Subscribe", lambda ev: ev.update(event_name="Subscribe"), ctwa_event, 2804066),
    ("bm custom name", lambda ev: ev.update(event_name="QualifiedLead"), ctwa_event, 2804066),
    ("bm missing waba", lambda ev: ev["user_data"].pop("whatsapp_business_account_id"), ctwa_event, 2804050),
    ("bm missing ctwa_clid", lambda ev: ev["user_data"].pop("ctwa_clid"), ctwa_event, 2804909),
    ("emulator_reject", lambda ev: ev["custom_data"].update(emulator_reject=True), make_event, None),
]


@pytest.mark.parametrize(("mutate", "factory", "subcode"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_event_rule(
    emu: EmulatorProcess,
    admin: EmulatorAdmin,
    mutate: Mutator,
    factory: Callable[[], dict],
    subcode: int | None,
) -> None:
    bad = factory()
    mutate(bad)
    err = assert_error(send(emu, [bad]), 100, subcode)
    assert err["is_transient"] is False
    assert err["error_user_title"] and (subcode is None or err["error_user_title"] in err["message"])
    stats = admin.stats()
    key = f"100/{subcode}" if subcode else "100"
    assert stats["errors_by_code"] == {key: 1}
    assert stats["events_received"] == 0 and stats["events_rejected"] == 1


def test_named_messages(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    too_old = make_event(event_time=int(time.time()) - 8 * DAY)
    assert "Event Timestamp Too Old" in assert_error(send(emu, [too_old]), 100, 2804003)["message"]
    no_waba = ctwa_event()
    del no_waba["user_data"]["whatsapp_business_account_id"]
    err = assert_error(send(emu, [no_waba]), 100, 2804050)
    assert err["error_user_title"] == "Missing Page ID Or WhatsApp Business account ID"
    lead = ctwa_event(event_name="Lead")
    assert "Messaging Event Invalid Event Type" in assert_error(send(emu, [lead]), 100, 2804066)["message"]
    purchase = make_event(event_name="Purchase")
    assert "Missing Value for Purchase Event" in assert_error(send(emu, [purchase]), 100, 2804009)["message"]


def test_one_bad_event_rejects_whole_batch_without_naming_it(
    emu: EmulatorProcess, admin: EmulatorAdmin
) -> None:
    events = [make_event() for _ in range(1000)]
    events[637]["custom_data"]["emulator_reject"] = True
    err = assert_error(send(emu, events), 100)
    text = json.dumps(err)
    assert "637" not in text and "index" not in text.lower()
    stats = admin.stats()
    assert (
        stats["events_received"] == 0 and stats["events_rejected"] == 1000 and stats["accepted_distinct"] == 0
    )
    assert admin.events() == []
    del events[637]  # bisecting client: the rest goes through
    assert_ok(send(emu, events), 999)


def test_first_invalid_event_names_the_rule(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    old = make_event(event_time=int(time.time()) - 8 * DAY)
    unhashed = make_event(user_data={"em": "a@b.co"})
    assert_error(send(emu, [make_event(), unhashed, old]), 100, 2804019)
    assert_error(send(emu, [make_event(), old, unhashed]), 100, 2804003)


# --------------------------------------------------------------------------------------------------
# dedup bookkeeping and stats
# --------------------------------------------------------------------------------------------------


def test_dedup_counters(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    e1, e2, e3 = make_event(), make_event(), make_event()
    assert_ok(send(emu, [e1, e2]), 2)
    assert_ok(send(emu, [e1, e3, e3]), 3)  # e1 resent, e3 twice in one batch
    assert_ok(send(emu, [e1], pixel=PIXEL2, token=TOKEN2), 1)  # other pixel: its own dedup space
    same_id_other_name = dict(e2, event_name="Purchase", custom_data={"value": 1, "currency": "IDR"})
    assert_ok(send(emu, [same_id_other_name]), 1)
    no_id = make_event(event_id=None)
    assert_ok(send(emu, [no_id, no_id]), 2)  # no event_id: nothing to dedup on
    stats = admin.stats()
    assert stats["events_received"] == 9
    assert stats["accepted_distinct"] == 7
    assert stats["duplicates"] == 2
    assert stats["per_pixel"][PIXEL]["accepted_distinct"] == 6
    assert stats["per_pixel"][PIXEL]["duplicates"] == 2
    assert stats["per_pixel"][PIXEL2]["accepted_distinct"] == 1
    flags = [(rec["event"]["event_id"], rec["duplicate"]) for rec in admin.events(pixel_id=PIXEL)][:5]
    assert flags == [
        (e1["event_id"], False),
        (e2["event_id"], False),
        (e1["event_id"], True),
        (e3["event_id"], False),
        (e3["event_id"], True),
    ]


def test_stats_shape(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert_ok(send(emu, [make_event()]), 1)
    send(emu, [make_event()], token="nope")
    send(emu, [make_event(event_time=1)])
    stats = admin.stats()
    assert stats["requests"] == 3
    assert stats["requests_by_status"] == {"200": 1, "400": 2}
    assert stats["errors_by_code"] == {"190": 1, "100/2804003": 1}
    assert stats["per_pixel"][PIXEL]["requests"] == 3 and stats["per_pixel"][PIXEL]["errors"] == 2
    assert stats["handler_seconds"] > 0


def test_reset_keeps_pixels_unless_asked(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert_ok(send(emu, [make_event()]), 1)
    admin.add_fault("transient")
    admin.reset()
    assert admin.stats()["requests"] == 0 and admin.events() == [] and admin.faults() == []
    assert_ok(send(emu, [make_event()]), 1)  # pixel still registered, fault gone
    admin.reset(pixels=True)
    assert admin.pixels() == {}
    assert_error(send(emu, [make_event()]), 190)


def test_runtime_config(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert admin.config()["waba_subcode"] == 2804050
    admin.set_config(waba_subcode=2804999, future_skew_seconds=600)
    bad = ctwa_event()
    del bad["user_data"]["whatsapp_business_account_id"]
    assert_error(send(emu, [bad]), 100, 2804999)
    assert_ok(send(emu, [make_event(event_time=int(time.time()) + 300)]), 1)
    with pytest.raises(EmulatorError):
        admin.set_config(no_such_knob=1)
    admin.reset()
    assert admin.config()["waba_subcode"] == 2804050


def test_admin_errors(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    assert requests.get(f"{emu.base_url}/_emulator/nope", timeout=10).status_code == 404
    assert requests.delete(f"{emu.base_url}/_emulator/stats", timeout=10).status_code == 405
    r = requests.post(f"{emu.base_url}/_emulator/pixels", data=b"{", timeout=10)
    assert r.status_code == 400 and r.headers["Content-Length"] == str(len(r.content))
    with pytest.raises(EmulatorError):
        admin.register_pixels({"1": 5})


# --------------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------------


def test_fault_token_expired_times(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_fault("token_expired", times=1)
    assert_error(send(emu, [make_event()]), 190, 463)
    assert_ok(send(emu, [make_event()]), 1)
    [rule] = admin.faults()
    assert rule["applied"] == 1 and rule["exhausted"] is True
    assert admin.stats()["faults_applied"] == {"token_expired": 1}


def test_fault_permission_pixel_filter(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_fault("permission", pixel_id=PIXEL2)
    assert_ok(send(emu, [make_event()]), 1)
    err = assert_error(send(emu, [make_event()], pixel=PIXEL2, token=TOKEN2), 200)
    assert err["message"] == "(#200) Permissions error"
    admin.clear_faults()
    admin.add_fault("permission", code=10)
    assert_error(send(emu, [make_event()]), 10)


@pytest.mark.parametrize(
    ("code", "subcode"), [(4, None), (17, 2446079), (32, None), (613, 1487742), (80004, None)]
)
def test_fault_throttle(emu: EmulatorProcess, admin: EmulatorAdmin, code: int, subcode: int | None) -> None:
    admin.add_fault("throttle", code=code, times=1, retry_after=3)
    r = send(emu, [make_event()])
    err = assert_error(r, code, subcode)
    assert err["is_transient"] is True
    assert r.headers["Retry-After"] == "3"
    assert_ok(send(emu, [make_event()]), 1)
    assert admin.stats()["events_received"] == 1  # the throttled request was not processed


def test_fault_throttle_default_without_retry_after(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_fault("throttle")
    r = send(emu, [make_event()])
    assert_error(r, 4)
    assert "Retry-After" not in r.headers


@pytest.mark.parametrize("code", [1, 2])
def test_fault_transient(emu: EmulatorProcess, admin: EmulatorAdmin, code: int) -> None:
    admin.add_fault("transient", code=code, times=1)
    err = assert_error(send(emu, [make_event()]), code, status=500)
    assert err["is_transient"] is True


def test_fault_http_503(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_faults(
        [{"kind": "http_503", "times": 1}, {"kind": "http_503", "body": "json", "skip": 1, "times": 1}]
    )
    r = send(emu, [make_event()])
    assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Content-Length"] == str(len(r.content))
    with pytest.raises(ValueError):
        r.json()
    r = send(emu, [make_event()])
    assert r.status_code == 503 and r.json()["error"]["is_transient"] is True
    assert_ok(send(emu, [make_event()]), 1)
    assert admin.stats()["requests_by_status"] == {"503": 2, "200": 1}


def test_fault_slow(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_fault("slow", seconds=0.6, times=2)
    start = time.monotonic()
    assert_ok(send(emu, [make_event()]), 1)
    assert time.monotonic() - start >= 0.6
    with pytest.raises(requests.exceptions.ReadTimeout):
        send(emu, [make_event()], timeout=0.2)
    time.sleep(0.6)
    assert admin.stats()["events_received"] == 2  # the timed-out request was still processed


def test_fault_drop_after_accept(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_fault("drop_after_accept", times=1)
    session = requests.Session()
    ev = make_event()
    with pytest.raises(requests.exceptions.ConnectionError):
        send(emu, [ev], session=session)
    stats = admin.stats()
    assert stats["events_received"] == 1 and stats["dropped_responses"] == 1
    assert stats["requests_by_status"] == {"dropped": 1}
    assert_ok(send(emu, [ev], session=session), 1)  # the client resends: Meta dedups it
    assert admin.stats()["duplicates"] == 1


def test_fault_partial(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_faults(
        [
            {"kind": "partial", "times": 1},
            {"kind": "partial", "skip": 1, "times": 1, "events_received": 0, "messages": ["nope"]},
        ]
    )
    r = send(emu, [make_event(), make_event(), make_event()])
    assert r.status_code == 200
    assert r.json()["events_received"] == 2 and r.json()["messages"]
    r = send(emu, [make_event()])
    assert r.json()["events_received"] == 0 and r.json()["messages"] == ["nope"]


def test_fault_partial_passes_errors_through(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_fault("partial")
    assert_error(send(emu, [make_event(event_time=1)]), 100, 2804003)


def test_fault_every_and_skip(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_fault("transient", every=2)
    statuses = [send(emu, [make_event()]).status_code for _ in range(4)]
    assert statuses == [200, 500, 200, 500]
    admin.clear_faults()
    admin.add_fault("transient", skip=2, times=1)
    statuses = [send(emu, [make_event()]).status_code for _ in range(4)]
    assert statuses == [200, 200, 500, 200]


def test_faults_compose(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    admin.add_faults([{"kind": "slow", "seconds": 0.3, "times": 1}, {"kind": "partial", "times": 1}])
    start = time.monotonic()
    r = send(emu, [make_event(), make_event()])
    assert time.monotonic() - start >= 0.3 and r.json()["events_received"] == 1


def test_fault_validation(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    for rule in (
        {"kind": "meteor"},
        {"kind": "slow", "seconds": "1"},
        {"kind": "throttle", "colour": 1},
        {"kind": "transient", "times": 0},
        {"kind": "transient", "times": True},
        "transient",
    ):
        with pytest.raises(EmulatorError):
            admin.add_faults([rule])
    assert admin.faults() == []


# --------------------------------------------------------------------------------------------------
# logs never carry tokens
# --------------------------------------------------------------------------------------------------


def _wait_for_log(emu: EmulatorProcess, needle: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = emu.read_log()
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_tokens_never_in_log(emu: EmulatorProcess, admin: EmulatorAdmin) -> None:
    for via in ("body", "header", "query"):
        send(emu, [make_event()], via=via)
        send(emu, [make_event(event_time=1)], via=via)
    send(emu, [make_event()], token=TOKEN2, via="query")  # wrong pixel for this token
    requests.post(
        f"{emu.base_url}/v25.0/{PIXEL}/events?access_token={TOKEN}",
        timeout=10,
        data={"data": orjson.dumps([make_event()]).decode(), "access_token": TOKEN},
    )
    # a malformed request line makes http.server log the raw request line: it must be scrubbed
    host, port = emu.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET /v25.0/{PIXEL}/events?access_token={TOKEN} HTTP/1.1 junk\r\n\r\n".encode())
        sock.recv(4096)
    marker = "/_emulator/health"
    admin.health()
    log = _wait_for_log(emu, marker)
    assert f'"POST /v25.0/{PIXEL}/events" 200' in log
    assert f'"POST /v25.0/{PIXEL}/events" 400' in log
    assert "Bad request" in log
    for secret in (TOKEN, TOKEN2, "SECRET"):
        assert secret not in log
    assert "access_token=" not in log.replace("access_token=[redacted]", "")


# --------------------------------------------------------------------------------------------------
# command-line options (own processes)
# --------------------------------------------------------------------------------------------------


def test_cli_pixels_file_no_store_and_subcode(tmp_path) -> None:
    pixels_file = tmp_path / "pixels.json"
    pixels_file.write_text(json.dumps({"pixels": {PIXEL: TOKEN}}))
    log_path = tmp_path / "emulator.log"
    args = [
        "--pixels-file",
        str(pixels_file),
        "--no-store-events",
        "--waba-subcode",
        "2804077",
        "--future-skew-seconds",
        "5",
        "--max-events",
        "10",
    ]
    with start_emulator(extra_args=args, log_path=log_path) as proc:
        assert proc.log_path == log_path
        admin = EmulatorAdmin(proc.base_url)
        ev = make_event()
        assert_ok(send(proc, [ev, ev]), 2)
        assert admin.events() == []
        stats = admin.stats()
        assert stats["accepted_distinct"] == 1 and stats["duplicates"] == 1
        bad = ctwa_event()
        del bad["user_data"]["whatsapp_business_account_id"]
        assert_error(send(proc, [bad]), 100, 2804077)
        assert_error(send(proc, [make_event(event_time=int(time.time()) + 30)]), 100, 2804004)
        assert "max 10" in assert_error(send(proc, [make_event() for _ in range(11)]), 100)["message"]
        assert admin.health()["store_events"] is False
    assert proc.proc is not None and proc.proc.returncode is not None
    assert "POST /v25.0/" in log_path.read_text()


def test_cli_accept_any_token() -> None:
    with start_emulator(extra_args=["--accept-any-token", "--quiet"]) as proc:
        assert_ok(send(proc, [make_event()], pixel="424242", token="anything"), 1)
        assert_error(send(proc, [make_event()], pixel="not-a-pixel", token="anything"), 100, 33)
        assert_error(send(proc, [make_event()], pixel="424242", token=None), 190)
    assert "POST" not in proc.read_log()  # --quiet: no access log
