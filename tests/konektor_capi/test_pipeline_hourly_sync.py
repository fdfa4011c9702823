"""The hourly sync on a real PostgreSQL against the Graph API emulator, asserted row by row."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tests.factory import now
from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

UA = "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def workspace(konektor, meta):
    ws = konektor.workspace(1, source="Konektor CRM")
    konektor.pixel(ws, "1000000000000001", token="tok-a", waba="900000000000001")
    konektor.pixel(ws, "1000000000000002", token=None)  # CAPI not configured
    konektor.pixel(ws, "1000000000000003", token="tok-c", enabled=False)
    konektor.session(ws, "+62 812-1111-2222", "900000000000011")
    meta.register_pixels({"1000000000000001": "tok-a", "1000000000000003": "tok-c"})
    return ws


def test_each_change_gets_one_outcome_per_enabled_pixel(engine, client, konektor, meta, workspace):
    crm = konektor.lead(workspace, email=" Budi.Santoso@Example.COM ", phone="0812-3456-7890")
    web = konektor.lead(workspace, landing_page_url="https://toko.id/promo", client_user_agent=UA,
                        client_ip="103.47.1.12", fbclid="IwAR123")  # fmt: skip
    won = konektor.lead(workspace, deal_value=1500000, deal_currency=None)
    no_value = konektor.lead(workspace, deal_value=None)
    c1 = konektor.change(crm, "new")
    c2 = konektor.change(web, "new")  # the web form: the one stage that happens on the website
    c3 = konektor.change(won, "won")
    c4 = konektor.change(no_value, "won")
    konektor.change(crm, "lost")  # not a mapped status: not extracted at all

    summary = sync_once(engine, client)

    rows = {(r["status_change_id"], r["pixel_id"]): r for r in konektor.sync_logs()}
    assert len(rows) == 8  # 4 mapped changes x 2 enabled pixels; the disabled pixel gets nothing
    a, b = "1000000000000001", "1000000000000002"
    assert rows[(c1, a)]["status"] == "accepted" and rows[(c1, a)]["event_name"] == "Lead"
    assert rows[(c1, a)]["action_source"] == "system_generated"
    assert rows[(c2, a)]["event_name"] == "Lead" and rows[(c2, a)]["action_source"] == "website"
    assert rows[(c3, a)]["status"] == "accepted" and rows[(c3, a)]["event_name"] == "Purchase"
    assert rows[(c4, a)]["status"] == "skipped" and "no deal value" in rows[(c4, a)]["reason"]
    for change in (c1, c2, c3, c4):
        assert rows[(change, b)]["status"] == "skipped"
        assert "no Conversions API access token" in rows[(change, b)]["reason"]
    assert all(r["status"] == "accepted" or r["reason"] for r in rows.values())
    assert summary["pairs"] == summary["recorded"] == 8

    sent = {e["event"]["event_id"]: e for e in meta.events(pixel_id=a)}
    assert set(sent) == {f"konektor-lsc-{c}" for c in (c1, c2, c3)}
    crm_event = sent[f"konektor-lsc-{c1}"]["event"]
    assert crm_event["user_data"]["em"] == sha("budi.santoso@example.com")
    assert crm_event["user_data"]["ph"] == sha("6281234567890")
    assert crm_event["custom_data"] == {"event_source": "crm", "lead_event_source": "Konektor CRM"}
    web_event = sent[f"konektor-lsc-{c2}"]["event"]
    assert web_event["event_source_url"] == "https://toko.id/promo"
    assert web_event["user_data"]["client_user_agent"] == UA
    assert web_event["user_data"]["client_ip_address"] == "103.47.1.12"
    assert web_event["user_data"]["fbc"].startswith("fb.1.") and web_event["user_data"]["fbc"].endswith(
        ".IwAR123"
    )
    purchase = sent[f"konektor-lsc-{c3}"]["event"]
    assert purchase["custom_data"]["value"] == 1500000 and purchase["custom_data"]["currency"] == "IDR"


def test_ctwa_waba_comes_from_the_matching_session_then_the_pixel_then_skips(engine, client, konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, "2000000000000001", token="tok", waba="900000000000001")
    konektor.pixel(ws, "2000000000000002", token="tok2", waba=None)
    konektor.session(ws, "+62 812-1111-2222", "900000000000011")
    konektor.session(ws, "0813 3333 4444", None)
    meta.register_pixels({"2000000000000001": "tok", "2000000000000002": "tok2"})
    by_session = konektor.lead(ws, ctwa_clid="clid-1", agent_phone="081211112222")
    click_only = {"email": None, "phone": None, "first_name": None, "last_name": None, "city": None,
                  "zip_code": None, "country": None, "gender": None}  # fmt: skip
    session_without_waba = konektor.lead(ws, ctwa_clid="clid-2", agent_phone="081333334444", **click_only)
    unknown_number = konektor.lead(ws, ctwa_clid="clid-3", agent_phone="0899 0000 0000")
    resubscribed = konektor.lead(ws, ctwa_clid="clid-4", agent_phone="081211112222")
    c1 = konektor.change(by_session, "new")
    c2 = konektor.change(session_without_waba, "qualified")
    c3 = konektor.change(unknown_number, "won")
    c4 = konektor.change(resubscribed, "resubscribed")
    konektor.execute("UPDATE leads SET deal_value = 100000 WHERE id = %s", (unknown_number,))

    sync_once(engine, client)

    rows = {(r["status_change_id"], r["pixel_id"]): r for r in konektor.sync_logs()}
    p1, p2 = "2000000000000001", "2000000000000002"
    assert rows[(c1, p1)]["waba_id"] == "900000000000011"  # the session's WABA wins over the pixel's
    assert rows[(c1, p1)]["event_name"] == "LeadSubmitted"
    assert rows[(c1, p2)]["waba_id"] == "900000000000011"
    assert rows[(c2, p1)]["waba_id"] == "900000000000001"  # session has none: the pixel's
    assert rows[(c3, p1)]["waba_id"] == "900000000000001"
    # neither has a WABA: the lead with an email and phone goes as a CRM event, the other is skipped
    assert rows[(c2, p2)]["status"] == "skipped"
    assert "Missing Page ID Or WhatsApp Business account ID" in rows[(c2, p2)]["reason"]
    assert (rows[(c3, p2)]["status"], rows[(c3, p2)]["action_source"]) == ("accepted", "system_generated")
    assert rows[(c3, p2)]["note"].endswith("sent as a CRM event, without its ctwa_clid")
    # resubscribed has no business-messaging name: it goes as a CRM event, without the click id
    assert rows[(c4, p1)]["event_name"] == "Subscribe"
    assert rows[(c4, p1)]["action_source"] == "system_generated"
    assert rows[(c4, p1)]["waba_id"] is None
    events = {e["event"]["event_id"]: e["event"] for e in meta.events(pixel_id=p1)}
    ctwa = events[f"konektor-lsc-{c1}"]
    assert ctwa["action_source"] == "business_messaging" and ctwa["messaging_channel"] == "whatsapp"
    assert ctwa["user_data"] == {"whatsapp_business_account_id": "900000000000011", "ctwa_clid": "clid-1"}
    assert "ctwa_clid" not in events[f"konektor-lsc-{c4}"]["user_data"]


def test_batches_hold_at_most_1000_events_and_never_mix_wabas(engine, client, konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, "3000000000000001", token="tok", waba="900000000000001")
    meta.register_pixels({"3000000000000001": "tok"})
    rows = [(i, ws) for i in range(1, 2102)]
    konektor.execute(
        "INSERT INTO leads (id, workspace_id, status, email, ctwa_clid, agent_phone) "
        "SELECT i, %s, 'new', 'lead' || i || '@example.com', "
        "       CASE WHEN i %% 10 = 0 THEN 'clid' || i END, NULL "
        "FROM generate_series(1, %s) i",
        (ws, len(rows)),
    )
    konektor.execute(
        "INSERT INTO lead_status_changes (lead_id, to_status, changed_at) "
        "SELECT i, 'new', now() - interval '1 hour' + i * interval '1 millisecond' "
        "FROM generate_series(1, %s) i",
        (len(rows),),
    )

    summary = sync_once(engine, client)

    stats = meta.stats()
    assert stats["events_received"] == 2101 and stats["duplicates"] == 0
    # 1891 CRM events -> 2 requests; 210 messaging events on one WABA -> 1 request
    assert stats["requests_by_status"] == {"200": 3}
    assert summary["recorded"] == 2101
    assert {r["status"] for r in konektor.sync_logs()} == {"accepted"}


def test_browser_event_id_is_kept_and_derived_ids_are_stable(engine, client, konektor, meta, workspace):
    lead = konektor.lead(workspace)
    from_browser = konektor.change(lead, "new", event_id="web-abc-123")
    derived = konektor.change(lead, "qualified")
    sync_once(engine, client)
    ids = {
        r["status_change_id"]: r["event_id"]
        for r in konektor.sync_logs()
        if r["pixel_id"] == "1000000000000001"
    }
    assert ids == {from_browser: "web-abc-123", derived: f"konektor-lsc-{derived}"}


def test_rerun_after_success_sends_nothing(engine, client, konektor, meta, workspace):
    lead = konektor.lead(workspace)
    konektor.change(lead, "new")
    konektor.change(lead, "qualified")
    sync_once(engine, client, "run-1")
    first = konektor.sync_logs()
    sync_once(engine, client, "run-1")  # the same run again (a cleared task)
    sync_once(engine, client, "run-2")  # the next hourly run
    assert meta.stats()["events_received"] == 2
    assert konektor.sync_logs() == first


def test_late_commit_within_the_grace_is_synced_by_the_next_run(engine, client, konektor, meta, workspace):
    lead = konektor.lead(workspace)
    konektor.change(lead, "new", ago=timedelta(minutes=10))
    t1 = now()
    sync_once(engine, client, "run-1", window_end=t1)
    # A transaction that began before run-1's window end commits only now.
    late = konektor.change(lead, "qualified", at=t1 - timedelta(minutes=40))
    sync_once(engine, client, "run-2", window_end=t1 + timedelta(hours=1))
    late_rows = [r for r in konektor.sync_logs() if r["status_change_id"] == late]
    assert [r["status"] for r in late_rows if r["pixel_id"] == "1000000000000001"] == ["accepted"]


def test_first_run_looks_back_seven_days_only(engine, client, konektor, meta, workspace):
    lead = konektor.lead(workspace)
    konektor.change(lead, "new", ago=timedelta(days=8))
    recent = konektor.change(lead, "qualified", ago=timedelta(days=6))
    summary = sync_once(engine, client)
    assert {r["status_change_id"] for r in konektor.sync_logs()} == {recent}
    assert summary["pairs"] == 2


def test_token_travels_in_the_body_and_never_reaches_logs_or_tables(engine, client, konektor, meta, workspace,
                                                                    emulator):  # fmt: skip
    lead = konektor.lead(workspace, email="siti@example.com", phone="0812 9999 8888", first_name="Siti")
    konektor.change(lead, "new")
    sync_once(engine, client)
    dump = " ".join(str(r) for r in konektor.sync_logs())
    dump += " ".join(str(r) for r in konektor.execute("SELECT * FROM sync_runs"))
    for secret in ("tok-a", "siti@example.com", "0812 9999 8888", "Siti"):
        assert secret not in dump
    assert "tok-a" not in emulator.read_log()
    stored = meta.events(pixel_id="1000000000000001")
    assert stored and "access_token" not in str(stored)


def test_pixel_test_event_code_routes_events_to_test_events(engine, client, konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, "1100000000000001", token="tok", test_event_code="TEST4242")
    meta.register_pixels({"1100000000000001": "tok"})
    konektor.change(konektor.lead(ws), "new")
    sync_once(engine, client)
    assert [e["test_event_code"] for e in meta.events(pixel_id="1100000000000001")] == ["TEST4242"]
