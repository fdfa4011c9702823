"""The event builder against Meta's contract, round 2 (issue 14): where an event happened, which customer
information Meta takes, what a Click-to-WhatsApp lead without a WABA becomes."""

from __future__ import annotations

import pytest

from tests.unit.test_events_input import build, changes

UA = "Mozilla/5.0 (Linux; Android 14) Chrome/125.0"
WEB = {"landing_page_url": "https://toko.id/promo", "client_user_agent": UA, "client_ip": "103.47.1.12",
       "fbc": "fb.1.1554763741205.AbCdEfGh", "fbp": "fb.1.1554763741205.1116446470"}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "deal", "source"),
    [("new", None, "website"), ("qualified", None, "system_generated"), ("won", 10.0, "system_generated"),
     ("resubscribed", None, "system_generated")],
)  # fmt: skip
def test_rule3_only_the_leads_web_form_is_a_website_event(status, deal, source):
    events = build(changes({**WEB, "to_status": status, "deal_value": deal}))
    assert events["action_source"].tolist() == [source]
    # CRM events keep the browser's match keys; only a website event has a page URL.
    row = events.iloc[0]
    assert (row["client_ip_address"], row["client_user_agent"]) == ("103.47.1.12", UA)
    assert (row["fbc"], row["fbp"]) == (WEB["fbc"], WEB["fbp"])
    assert row["event_source_url"] == ("https://toko.id/promo" if source == "website" else None)
    assert row["lead_event_source"] == (None if source == "website" else "Konektor")


def test_rule3_a_won_change_carrying_the_browsers_event_id_is_a_website_event():
    events = build(changes({**WEB, "to_status": "won", "deal_value": 10.0, "change_event_id": "pixel-evt-9"},
                           {**WEB, "to_status": "won", "deal_value": 10.0}))  # fmt: skip
    assert events["action_source"].tolist() == ["website", "system_generated"]
    assert events["event_id"].iloc[0] == "pixel-evt-9"


def test_rule3_a_new_lead_without_a_page_or_browser_is_a_crm_event():
    events = build(changes({"landing_page_url": "https://toko.id"}, {"client_user_agent": UA}))
    assert events["action_source"].tolist() == ["system_generated", "system_generated"]
