"""The event builder against Meta's contract, round 2 (issue 14): where an event happened, which customer
information Meta takes, what a Click-to-WhatsApp lead without a WABA becomes."""

from __future__ import annotations

import pytest

from tests.konektor_capi.test_events_input import build, changes

pytestmark = pytest.mark.unit

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


def test_rule5_a_ctwa_lead_without_a_waba_goes_as_a_crm_event_when_it_has_identifiers():
    import pandas as pd

    from konektor_capi.fanout import events_per_pixel, group_pixels
    from konektor_capi.payloads import event_dicts

    events = build(changes({"ctwa_clid": "clid-1", "phone": "0812-3456-7890", "email": None},
                           {"ctwa_clid": "clid-2", "email": None},  # nothing but the click
                           {"ctwa_clid": "clid-3", "to_status": "won", "deal_value": 10.0}))  # fmt: skip
    pixels = group_pixels(pd.DataFrame({"pixel_key": [3, 5], "pixel_id": ["111", "222"],
                                        "pixel_waba_id": [None, "900000000000001"]}))  # fmt: skip
    pairs = events_per_pixel(events, pd.Series(["3 5"] * 3, index=events.index), pixels)

    got = list(zip(pairs["status_change_id"], pairs["pixel_id"], pairs["action_source"], pairs["event_name"],
                   strict=True))  # fmt: skip
    assert got == [
        (1, "111", "system_generated", "Lead"),  # no WABA, a phone: a CRM event
        (1, "222", "business_messaging", "LeadSubmitted"),  # the pixel's WABA
        (2, "111", "business_messaging", "LeadSubmitted"),  # nothing to match on: validation skips it
        (2, "222", "business_messaging", "LeadSubmitted"),
        (3, "111", "system_generated", "Purchase"),
        (3, "222", "business_messaging", "Purchase"),
    ]
    crm = pairs[pairs["action_source"] == "system_generated"]
    assert crm["note"].str.startswith("Click-to-WhatsApp lead without a WhatsApp Business Account ID").all()
    assert pairs.loc[pairs["action_source"] != "system_generated", "note"].isna().all()
    sent = event_dicts(crm)
    assert all("ctwa_clid" not in e["user_data"] and "whatsapp_business_account_id" not in e["user_data"]
               for e in sent)  # fmt: skip
    assert sent[0]["user_data"]["ph"]
    assert sent[0]["custom_data"] == {"event_source": "crm", "lead_event_source": "Konektor"}
    assert sent[1]["custom_data"]["value"] == 10.0 and sent[1]["custom_data"]["currency"] == "IDR"


def test_rule8_each_event_records_the_match_keys_it_carries_and_its_ad():
    url = "https://toko.id/promo?utm_source=fb&campaign_id=120210000000001&adset_id=12021000000000&ad_id=9"
    events = build(changes({"email": "a@example.com", "phone": "0812-3456-7890", "fbc": "fb.1.1.x",
                            "client_ip": "103.47.1.12", "landing_page_url": url},
                           {"ctwa_clid": "clid-1"}))  # fmt: skip
    assert events["match_keys"].tolist() == ["em,ph,country,external_id,fbc,client_ip_address", "ctwa_clid"]
    assert events[["campaign_id", "adset_id", "ad_id"]].iloc[0].tolist() == [
        "120210000000001", "12021000000000", "9"]  # fmt: skip
    assert events[["campaign_id", "adset_id", "ad_id"]].iloc[1].isna().all()
