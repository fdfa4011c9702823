"""Meta's contract, round 2 (issue 14), end to end: Konektor rows in a real PostgreSQL, the sync's stages,
the Graph API emulator (which enforces Meta's rules) and what sync_logs records."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from konektor_capi import sql
from konektor_capi.db import ensure_pipeline_schema
from konektor_capi.mapping import EventMapping
from konektor_capi.pipeline import finish_run, plan_groups, sync_group
from konektor_capi.runs import open_run
from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

PIXEL = "1400000000000001"
UA = "Mozilla/5.0 (Linux; Android 14) Chrome/125.0"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def ws(konektor, meta) -> int:
    workspace = konektor.workspace(1, country="ID", currency="IDR")
    konektor.pixel(workspace, PIXEL, token="tok-14")
    meta.register_pixels({PIXEL: "tok-14"})
    return workspace


def _logs(konektor) -> dict[int, dict]:
    return {row["status_change_id"]: row for row in konektor.sync_logs()}


def _sent(meta) -> dict[str, dict]:
    return {e["event"]["event_id"]: e["event"] for e in meta.events(pixel_id=PIXEL)}


def test_rule1_fbc_and_fbp_with_any_subdomain_index_reach_meta_unchanged(engine, client, konektor, meta, ws):
    co_id = konektor.change(konektor.lead(ws, fbc="fb.2.1554763741205.AbCdEfGh", fbclid="IwAROther",
                                          fbp="fb.2.1554763741205.1116446470.AQ"), "new")  # fmt: skip
    top = konektor.change(konektor.lead(ws, fbc="fb.0.1554763741205.AbCdEfGh"), "new")

    sync_once(engine, client)

    assert {row["status"] for row in _logs(konektor).values()} == {"accepted"}
    sent = _sent(meta)
    assert sent[f"konektor-lsc-{co_id}"]["user_data"]["fbc"] == "fb.2.1554763741205.AbCdEfGh"
    assert sent[f"konektor-lsc-{co_id}"]["user_data"]["fbp"] == "fb.2.1554763741205.1116446470.AQ"
    assert sent[f"konektor-lsc-{top}"]["user_data"]["fbc"] == "fb.0.1554763741205.AbCdEfGh"


def test_rule2_a_us_leads_national_phone_is_sent_with_the_us_calling_code(engine, client, konektor, meta, ws):
    us = konektor.change(konektor.lead(ws, phone="(650) 253-0000", country="United States"), "new")
    local = konektor.change(konektor.lead(ws, phone="0812-3456-7890", country=None), "new")
    written = konektor.change(konektor.lead(ws, phone="+62 812-3456-7890", country="US"), "new")

    sync_once(engine, client)

    assert {row["status"] for row in _logs(konektor).values()} == {"accepted"}
    sent = _sent(meta)
    assert sent[f"konektor-lsc-{us}"]["user_data"]["ph"] == sha("16502530000")
    assert sent[f"konektor-lsc-{local}"]["user_data"]["ph"] == sha("6281234567890")
    assert sent[f"konektor-lsc-{written}"]["user_data"]["ph"] == sha("6281234567890")


def test_rule3_a_won_web_lead_is_a_crm_event_with_its_browser_match_keys(engine, client, konektor, meta, ws):
    web = {"landing_page_url": "https://toko.id/promo", "client_user_agent": UA, "client_ip": "103.47.1.12",
           "fbp": "fb.1.1554763741205.1116446470", "deal_value": 250000}  # fmt: skip
    lead = konektor.lead(ws, **web)
    form = konektor.change(lead, "new")
    won = konektor.change(lead, "won")
    pixel_won = konektor.change(konektor.lead(ws, **web), "won", event_id="browser-purchase-1")

    sync_once(engine, client)

    logs = _logs(konektor)
    assert {c: logs[c]["action_source"] for c in (form, won, pixel_won)} == {
        form: "website", won: "system_generated", pixel_won: "website"}  # fmt: skip
    assert {row["status"] for row in logs.values()} == {"accepted"}
    sent = _sent(meta)
    crm = sent[f"konektor-lsc-{won}"]
    assert crm["action_source"] == "system_generated" and "event_source_url" not in crm
    assert crm["custom_data"]["event_source"] == "crm"
    assert {k: crm["user_data"][k] for k in ("client_ip_address", "client_user_agent", "fbp")} == {
        "client_ip_address": "103.47.1.12", "client_user_agent": UA, "fbp": web["fbp"]}  # fmt: skip
    assert sent["browser-purchase-1"]["event_source_url"] == "https://toko.id/promo"


def test_rule4_name_and_address_or_the_lead_id_alone_are_sent_and_meta_takes_them(
    engine, client, konektor, meta, ws
):
    nothing = {"email": None, "phone": None, "first_name": None, "last_name": None, "city": None,
               "zip_code": None, "country": None, "gender": None}  # fmt: skip
    address = konektor.change(konektor.lead(ws, **{**nothing, "first_name": "Budi", "last_name": "Santoso",
                                                   "city": "Jakarta", "zip_code": "12190", "country": "ID"}),
                              "new")  # fmt: skip
    only_id = konektor.change(konektor.lead(ws, **nothing), "new")

    sync_once(engine, client)

    logs = _logs(konektor)
    assert (logs[address]["status"], logs[only_id]["status"]) == ("accepted", "accepted")
    sent = _sent(meta)
    assert set(sent[f"konektor-lsc-{address}"]["user_data"]) == {
        "fn",
        "ln",
        "ct",
        "zp",
        "country",
        "external_id",
    }
    assert set(sent[f"konektor-lsc-{only_id}"]["user_data"]) == {"country", "external_id"}


def test_rule6_a_deal_in_a_made_up_currency_is_skipped_and_its_batch_goes_through(
    engine, client, konektor, meta, ws
):
    xyz = konektor.change(konektor.lead(ws, deal_value=100, deal_currency="XYZ"), "won")
    usd = konektor.change(konektor.lead(ws, deal_value=100, deal_currency="usd"), "won")

    summary = sync_once(engine, client)

    logs = _logs(konektor)
    assert (logs[xyz]["status"], logs[xyz]["reason"]) == (
        "skipped", "deal currency 'XYZ' is not an ISO 4217 currency code")  # fmt: skip
    assert logs[usd]["status"] == "accepted"
    assert _sent(meta)[f"konektor-lsc-{usd}"]["custom_data"]["currency"] == "USD"
    assert summary["requests"] == 1  # no bisection: the bad event never reached Meta


def test_rule5_a_ctwa_lead_without_a_waba_is_sent_as_a_crm_event_with_a_note(
    engine, client, konektor, meta, ws
):
    nothing = {"email": None, "phone": None, "first_name": None, "last_name": None, "city": None,
               "zip_code": None, "country": None, "gender": None}  # fmt: skip
    with_phone = konektor.change(konektor.lead(ws, ctwa_clid="clid-1", agent_phone="0812 9999 0000"), "new")
    click_only = konektor.change(konektor.lead(ws, ctwa_clid="clid-2", **nothing), "new")

    sync_once(engine, client)

    logs = _logs(konektor)
    row = logs[with_phone]
    assert (row["status"], row["action_source"], row["event_name"], row["waba_id"]) == (
        "accepted", "system_generated", "Lead", None)  # fmt: skip
    assert row["note"].startswith("Click-to-WhatsApp lead without a WhatsApp Business Account ID (no session")
    assert row["note"].endswith("sent as a CRM event, without its ctwa_clid")
    assert logs[click_only]["status"] == "skipped" and logs[click_only]["note"] is None
    assert logs[click_only]["reason"].endswith("nothing else to match it on as a CRM event")
    event = _sent(meta)[f"konektor-lsc-{with_phone}"]
    assert event["user_data"]["ph"] == sha("6281234567890") and "ctwa_clid" not in event["user_data"]
    assert event["custom_data"]["event_source"] == "crm"


TEMPLATE_URL = ("https://toko.id/promo?utm_source=fb&utm_medium=paid&utm_campaign=Lebaran"
                "&campaign_id=120210000000001&adset_id=120210000000002&ad_id=120210000000003")  # fmt: skip


def test_rule8_sync_logs_records_match_keys_and_ad_ids_and_the_readme_queries_read_them(
    engine, client, konektor, meta, ws
):
    web = konektor.lead(ws, phone=None, landing_page_url=TEMPLATE_URL, client_user_agent=UA,
                        client_ip="103.47.1.12", fbc="fb.1.1554763741205.AbCdEfGh")  # fmt: skip
    form = konektor.change(web, "new")
    won = konektor.change(web, "won")
    konektor.execute("UPDATE leads SET deal_value = 500000 WHERE id = %s", (web,))
    crm = konektor.change(konektor.lead(ws, first_name=None, last_name=None, city=None, zip_code=None,
                                        gender=None), "qualified")  # fmt: skip

    sync_once(engine, client)

    logs = _logs(konektor)
    assert logs[form]["match_keys"] == (
        "em,fn,ln,ge,ct,zp,country,external_id,fbc,client_ip_address,client_user_agent")  # fmt: skip
    assert logs[crm]["match_keys"] == "em,ph,country,external_id"
    for change in (form, won):
        row = logs[change]
        assert (row["campaign_id"], row["adset_id"], row["ad_id"]) == (
            "120210000000001", "120210000000002", "120210000000003")  # fmt: skip
    assert logs[crm]["campaign_id"] is None
    # No raw PII: the row holds key names and ad ids, never the values.
    assert not any("toko.id" in str(v) or "103.47.1.12" in str(v) or "budi" in str(v).lower()
                   for row in logs.values() for v in row.values())  # fmt: skip

    coverage = {r[0]: r[1:] for r in konektor.execute(sql.load("analyst_match_coverage"))}
    events, em, ph, fbc, fbp, ip, clid = coverage[PIXEL]
    assert (events, float(em), float(ph), float(fbc), float(ip)) == (3, 100.0, 33.3, 66.7, 66.7)
    campaigns = konektor.execute(sql.load("analyst_conversions_per_campaign"))
    assert [(r[1], r[4], r[5]) for r in campaigns] == [("120210000000001", "Lead", 1),
                                                      ("120210000000001", "Purchase", 1)]  # fmt: skip
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name in ("analyst_match_coverage", "analyst_conversions_per_campaign"):
        assert sql.load(name).strip() in readme


def test_rule8_an_existing_sync_logs_gains_the_new_columns_once(engine, konektor):
    columns = ("note", "match_keys", "campaign_id", "adset_id", "ad_id")
    for column in columns:
        konektor.execute(f"ALTER TABLE sync_logs DROP COLUMN {column}")  # a deployment from before
    for _ in range(2):  # idempotent: the second pass finds them and changes nothing
        ensure_pipeline_schema(engine)
        found = konektor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'sync_logs' "
            "AND column_name = ANY(%s)",
            (list(columns),),
        )
        assert sorted(c for (c,) in found) == sorted(columns)


def test_rule7_an_event_that_crosses_the_7_day_line_while_queued_is_skipped_and_its_batch_goes(
    engine, client, konektor, meta, ws
):
    # The run prepares (in the "prepare" thread) at the real time and sends 30 minutes later: what
    # passed validation with a minute to spare is past the line when its request leaves. The emulator's
    # clock is 30 minutes ahead too, so sending it would reject the whole batch (100 / 2804003).
    later = 30 * 60

    def now() -> float:
        return time.time() + (0 if threading.current_thread().name == "prepare" else later)

    meta.set_config(clock_offset_seconds=later)
    aged = konektor.change(konektor.lead(ws), "new", ago=timedelta(days=7, minutes=-16))
    fresh = konektor.change(konektor.lead(ws), "new")
    run = open_run(engine, "run-7", mode="hourly", window_end=datetime.now(UTC))
    mapping = EventMapping()
    for group in plan_groups(engine, run, mapping):
        sync_group(engine, client, run, group, mapping, now=now, delivery="thread")
    finish_run(engine, run, mapping)

    logs = _logs(konektor)
    assert logs[fresh]["status"] == "accepted"
    assert logs[aged]["status"] == "skipped"
    assert logs[aged]["reason"].startswith("older than Meta's 7-day window for server events")
    stats = meta.stats()
    assert stats["requests"] == 1 and not stats["errors_by_code"]  # no rejected batch, no bisection
