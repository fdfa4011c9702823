"""The event builder on values the extract could not use, and on statuses typed with case and spaces."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from konektor_capi.events import INPUT_PROBLEM, build_events
from konektor_capi.mapping import EventMapping
from konektor_capi.user_data import build_user_data

pytestmark = pytest.mark.unit

CHANGED = pd.Timestamp("2026-11-30 10:00:00", tz="UTC")


def changes(*rows: dict) -> pd.DataFrame:
    base = {
        "status_change_id": 1, "lead_id": 7, "workspace_id": 1, "to_status": "new", "changed_at": CHANGED,
        "change_event_id": None, "default_country": "ID", "default_currency": "IDR",
        "lead_source_name": "Konektor", "email": "a@example.com", "phone": None, "first_name": None,
        "last_name": None, "city": None, "state": None, "zip_code": None, "country": None, "gender": None,
        "date_of_birth": None, "agent_phone": None, "ctwa_clid": None, "fbclid": None, "fbc": None,
        "fbp": None, "client_ip": None, "client_user_agent": None, "landing_page_url": None,
        "meta_lead_id": None, "deal_value": math.nan, "deal_currency": None,
        "lead_created_at": CHANGED - pd.Timedelta(days=1), "unusable_deal_value": None,
        "unusable_changed_at": None, "unusable_lead_created_at": None,
    }  # fmt: skip
    frame = pd.DataFrame([{**base, "status_change_id": i + 1, **row} for i, row in enumerate(rows)])
    return frame.astype({"deal_value": "float64"})


def build(frame: pd.DataFrame) -> pd.DataFrame:
    waba = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return build_events(frame, build_user_data(frame), waba, EventMapping())


def test_an_unusable_deal_value_holds_a_purchase_and_nothing_else():
    events = build(changes({"to_status": "won", "unusable_deal_value": "NaN"},
                           {"to_status": "new", "unusable_deal_value": "NaN"},
                           {"to_status": "won", "deal_value": math.inf},  # no extract in front
                           {"to_status": "won", "deal_value": 10.0}))  # fmt: skip
    assert events[INPUT_PROBLEM].tolist() == [
        "leads.deal_value is not a usable number ('NaN') (a Purchase needs its deal value)",
        None,
        "leads.deal_value is not a usable number ('inf') (a Purchase needs its deal value)",
        None,
    ]
    assert events["value"].isna().tolist() == [True, True, True, False]


def test_an_unusable_change_time_skips_the_event_naming_the_column():
    events = build(changes({"changed_at": pd.NaT, "unusable_changed_at": "infinity"}, {}))
    assert events[INPUT_PROBLEM].tolist() == [
        "lead_status_changes.changed_at is not a usable timestamp ('infinity')",
        None,
    ]
    assert events["event_time"].tolist() == [0, int(CHANGED.timestamp())]


def test_an_unusable_creation_time_drops_the_built_click_id_and_the_event_still_goes():
    # Konektor's lead id (external_id) and the country are customer information Meta takes (rule 4).
    bad = {"lead_created_at": pd.NaT, "unusable_lead_created_at": "-infinity", "fbclid": "IwAR1abc"}
    events = build(changes({**bad, "email": None}, bad, {"fbclid": "IwAR1abc", "email": None}))
    assert events["fbc"].isna().tolist() == [True, True, False]
    assert events[INPUT_PROBLEM].tolist() == [None, None, None]
    assert (events["n_identifiers"] > 0).all()


@pytest.mark.parametrize("status", ["Won", " WON ", "won\t", "\u00a0won"])
def test_a_status_typed_with_case_and_spaces_maps_like_its_trimmed_lower_case_form(status):
    events = build(changes({"to_status": status, "deal_value": 5.0, "ctwa_clid": None},
                           {"to_status": status, "deal_value": 5.0, "ctwa_clid": "clid"}))  # fmt: skip
    assert events["event_name"].tolist() == ["Purchase", "Purchase"]
    assert events["action_source"].tolist() == ["system_generated", "business_messaging"]
    assert events["to_status"].tolist() == ["won", "won"]
    assert events["value"].tolist() == [5.0, 5.0]


def test_configured_statuses_match_in_the_same_trimmed_lower_case_form():
    mapping = EventMapping.from_config({"event_names": {" Lost ": "Lead"}})
    frame = changes({"to_status": "LOST"}, {"to_status": "lost"})
    waba = pd.Series([None, None], dtype=object)
    events = build_events(frame, build_user_data(frame), waba, mapping)
    assert events["event_name"].tolist() == ["Lead", "Lead"]
