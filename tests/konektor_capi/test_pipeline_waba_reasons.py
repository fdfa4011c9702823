"""A WABA id that is there but not a number: the skip reason names it and where it came from."""

from __future__ import annotations

import pytest

from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

A, B = "8300000000000001", "8300000000000002"
# Leads with nothing but their click: without a WABA they cannot go as a CRM event either: skipped.
CLICK_ONLY = {"email": None, "phone": None, "first_name": None, "last_name": None, "city": None,
              "zip_code": None, "country": None, "gender": None}  # fmt: skip
PLAIN = ("no WhatsApp Business Account ID: no session WABA for the agent's number and none on the pixel "
         "(Meta would reject it: Missing Page ID Or WhatsApp Business account ID), and nothing else to match "
         "it on as a CRM event")  # fmt: skip


def test_a_malformed_waba_id_is_named_with_its_session_or_pixel(engine, client, konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, A, token="tok-a", waba="WABA-ABC")
    konektor.pixel(ws, B, token="tok-b")
    konektor.session(ws, "+62 812-1111-2222", "WABA-XYZ")
    ((session,),) = konektor.execute("SELECT id FROM whatsapp_sessions")
    meta.register_pixels({A: "tok-a", B: "tok-b"})
    on_session = konektor.change(
        konektor.lead(ws, ctwa_clid="clid-1", agent_phone="0812 1111 2222", **CLICK_ONLY), "new"
    )
    no_session = konektor.change(
        konektor.lead(ws, ctwa_clid="clid-2", agent_phone="0812 9999 0000", **CLICK_ONLY), "new"
    )

    sync_once(engine, client)

    logs = konektor.sync_logs()
    reasons = {(r["status_change_id"], r["pixel_id"]): (r["status"], r["reason"]) for r in logs}
    session_bad = f"WhatsApp Business Account id 'WABA-XYZ' of WhatsApp session {session} is not numeric"
    pixel_bad = f"WhatsApp Business Account id 'WABA-ABC' of pixel {A} is not numeric"
    assert reasons[(on_session, A)][0] == "skipped"
    assert session_bad in reasons[(on_session, A)][1] and pixel_bad in reasons[(on_session, A)][1]
    assert session_bad in reasons[(on_session, B)][1] and "none on the pixel" in reasons[(on_session, B)][1]
    assert "no session WABA for the agent's number" in reasons[(no_session, A)][1]
    assert pixel_bad in reasons[(no_session, A)][1]
    assert reasons[(no_session, B)] == ("skipped", PLAIN)  # both simply empty: the plain reason
    assert all(
        r[1].endswith("account ID), and nothing else to match it on as a CRM event") for r in reasons.values()
    )


def test_a_usable_session_waba_wins_over_a_malformed_one_on_the_same_number(engine, client, konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, A, token="tok-a")
    konektor.session(ws, "+62 812-1111-2222", "WABA-OLD")  # older, unusable
    konektor.session(ws, "0812 1111 2222", "9000000000042")
    meta.register_pixels({A: "tok-a"})
    change = konektor.change(konektor.lead(ws, ctwa_clid="clid-1", agent_phone="081211112222"), "won")

    konektor.execute("UPDATE leads SET deal_value = 10, deal_currency = 'IDR'")
    sync_once(engine, client)

    (row,) = konektor.sync_logs()
    assert (row["status_change_id"], row["status"], row["waba_id"]) == (change, "accepted", "9000000000042")
