"""Meta's identity rule (issue 14, rule 4): only customer information inside a weak combination is refused."""

from __future__ import annotations

import pandas as pd
import pytest

from konektor_capi.identity import CUSTOMER_KEYS, is_weak, key_bits, key_names, weak_reason
from tests.konektor_capi.test_events_input import build, changes

pytestmark = pytest.mark.unit

H = "a" * 64


def bits(*keys: str):
    return key_bits(pd.DataFrame([{k: (H if k in keys else None) for k in CUSTOMER_KEYS}]))


@pytest.mark.parametrize(
    "keys",
    [("fn", "ln", "ct", "zp", "country"), ("external_id",), ("em",),
     ("client_ip_address", "client_user_agent"),
     ("fbp",), ("db", "ge"), ("fn", "ln")],
)  # fmt: skip
def test_what_meta_takes_is_not_weak(keys):
    assert not is_weak(bits(*keys))[0]


@pytest.mark.parametrize(
    "keys",
    [(), ("ct", "country", "st", "zp", "ge", "client_user_agent"), ("country",), ("ct", "zp", "country"),
     ("db", "client_user_agent"), ("db",), ("fn", "ge"), ("ln", "ge"), ("ge",), ("client_user_agent",)],
)  # fmt: skip
def test_a_subset_of_a_weak_combination_is_weak(keys):
    assert is_weak(bits(*keys))[0]


def test_key_names_list_the_present_keys_in_a_fixed_order():
    frame = pd.DataFrame([{"client_ip_address": "1.2.3.4", "fbc": "fb.1.1.x", "ph": H, "em": H}, {}])
    assert key_names(key_bits(frame)).tolist() == ["em,ph,fbc,client_ip_address", None]


def test_the_weak_reason_names_the_keys_it_saw():
    (reason,) = weak_reason(bits("ct", "country"))
    assert reason.startswith("customer information too weak for Meta to match (ct,country)")


def test_rule4_a_lead_with_only_name_and_address_or_only_its_id_is_sent():
    # fn + ln + ct + zp + country, and external_id (+ the workspace's country) alone: Meta takes both.
    events = build(changes({"email": None, "first_name": "Budi", "last_name": "Santoso", "city": "Jakarta",
                            "zip_code": "12190", "country": "ID"},
                           {"email": None}))  # fmt: skip
    assert (events["n_identifiers"] > 0).tolist() == [True, True]
