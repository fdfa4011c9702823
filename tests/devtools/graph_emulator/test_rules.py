"""In-process checks of the emulator's rule engine: the fast batch path must agree with the reference."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.graph_emulator.rules import (
    EVENT_TOO_OLD,
    UNHASHED_USER_DATA,
    RuleConfig,
    hashes_ok,
    make_batch_checker,
)

pytestmark = pytest.mark.unit

NOW = int(time.time())
H = hashlib.sha256(b"x").hexdigest()
CHECK = make_batch_checker(RuleConfig())
MISSING = object()

user_values = st.sampled_from(
    [
        H,
        H.upper(),
        H[:63],
        "plain",
        [H],
        [H, H],
        [H, "plain"],
        [H, 5],
        "",
        None,
        [],
        5,
        {"a": H},
        "Mozilla/5.0",
        "987654321",
        "ARAkLk",
    ]
)
user_keys = st.sampled_from(
    [
        "em",
        "ph",
        "fn",
        "ln",
        "ge",
        "db",
        "ct",
        "st",
        "zp",
        "country",
        "external_id",
        "client_user_agent",
        "client_ip_address",
        "fbc",
        "fbp",
        "lead_id",
        "whatsapp_business_account_id",
        "ctwa_clid",
        "page_id",
    ]
)
field_values = {
    "event_name": [
        MISSING,
        "Lead",
        "Purchase",
        "LeadSubmitted",
        "InitiateCheckout",
        "Subscribe",
        "",
        None,
        5,
    ],
    "event_time": [
        MISSING,
        NOW - 60,
        NOW - 8 * 86400,
        NOW - 30 * 86400,
        NOW - 63 * 86400,
        NOW + 30,
        NOW + 600,
        str(NOW),
        NOW + 0.5,
        None,
        True,
    ],
    "action_source": [
        MISSING,
        "system_generated",
        "website",
        "physical_store",
        "business_messaging",
        "crm",
        None,
        ["website"],
    ],
    "event_id": [MISSING, "e1", 7, None, "", ["e"], 1.5],
    "event_source_url": [MISSING, "https://x.co/a", "http://x.co", "ftp://x", 5],
    "messaging_channel": [MISSING, "whatsapp", "messenger"],
    "custom_data": [
        MISSING,
        None,
        {},
        "crm",
        {"value": 1.5, "currency": "IDR"},
        {"value": 10, "currency": "RP"},
        {"value": "10", "currency": "IDR"},
        {"value": True, "currency": "IDR"},
        {"emulator_reject": True},
        {"emulator_reject": "yes"},
    ],
}


@st.composite
def events(draw: Any) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([None, [], "event", 5]))
    ev: dict[str, Any] = {}
    for key, values in field_values.items():
        value = draw(st.sampled_from(values))
        if value is not MISSING:
            ev[key] = value
    ud_kind = draw(st.integers(0, 10))
    if ud_kind == 0:
        pass
    elif ud_kind == 1:
        ev["user_data"] = "not a dict"
    else:
        ev["user_data"] = draw(st.dictionaries(user_keys, user_values, max_size=7))
    return ev


@settings(max_examples=1500, deadline=None)
@given(st.lists(events(), min_size=1, max_size=4))
def test_fast_path_agrees_with_reference(batch: list) -> None:
    reference = next((err for ev in batch if (err := CHECK.check_event(ev, NOW)) is not None), None)
    assert CHECK.batch_valid(batch, NOW) == (reference is None)
    assert CHECK(batch, NOW) == reference


def test_hashes_ok() -> None:
    assert hashes_ok([]) and hashes_ok([H, H])
    for bad in ([H.upper()], [H[:63]], [H + "0"], [H[:63] + "g"], [H[:63] + "é"], [5], [[H]], [None]):
        assert not hashes_ok([H, *bad])
    # lengths that only add up to 64 per value on average are still caught
    assert not hashes_ok([H[:63], H + "0"])


def test_first_invalid_event_decides() -> None:
    good = {"event_name": "Lead", "event_time": NOW, "action_source": "other", "user_data": {"em": H}}
    old = dict(good, event_time=NOW - 30 * 86400)
    raw = dict(good, user_data={"em": "a@b.co"})
    assert CHECK([good, raw, old], NOW) is UNHASHED_USER_DATA
    assert CHECK([good, old, raw], NOW) is EVENT_TOO_OLD
    assert CHECK([good] * 3, NOW) is None


def _crm_event(**user_data: Any) -> dict:
    return {"event_name": "Lead", "event_time": NOW - 60, "action_source": "system_generated",
            "user_data": user_data}  # fmt: skip


def test_meta_identity_rule_refuses_only_the_weak_combinations() -> None:
    # issue 14, rule 4: fn+ln+ct+zp+country, or external_id alone, are valid customer information.
    for valid in ({"fn": H, "ln": H, "ct": H, "zp": H, "country": H}, {"external_id": H}):
        assert CHECK([_crm_event(**valid)], NOW) is None
    weak = ({"ct": H, "country": H, "st": H, "zp": H, "ge": H, "client_user_agent": "UA"},
            {"db": H, "client_user_agent": "UA"}, {"fn": H, "ge": H}, {"ln": H, "ge": H}, {"country": H},
            {})  # fmt: skip
    for user_data in weak:
        error = CHECK([_crm_event(**user_data)], NOW)
        assert error is not None and error.subcode == 2804907, user_data


def test_a_purchase_in_a_currency_that_is_not_iso_4217_rejects_its_batch() -> None:
    def purchase(currency: str) -> dict:
        return {
            **_crm_event(em=H),
            "event_name": "Purchase",
            "custom_data": {"value": 10, "currency": currency},
        }

    assert CHECK([purchase("IDR"), purchase("USD")], NOW) is None
    for bad in ("XYZ", "XXX", "XAU"):
        error = CHECK([purchase("IDR"), purchase(bad)], NOW)
        assert error is not None and (error.code, error.subcode) == (100, 2804912), bad
