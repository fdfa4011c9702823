"""Garbage in Konektor's tables gives clear outcomes and never crashes the run."""

from __future__ import annotations

import pytest

from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

GOOD, ODD = "8000000000000001", "pixel-8000"

NASTY = [
    {"email": "not-an-email", "phone": "n/a", "country": "Atlantis", "gender": "?", "first_name": "!!!"},
    {"email": "a@b", "phone": "+62", "city": "x" * 5000, "zip_code": "\t\n", "state": "☃☃☃"},
    {
        "email": "🙂@🙂.id",
        "phone": "0" * 40,
        "first_name": "Ñoño\u0000".replace("\u0000", ""),
        "last_name": "O'Neil",
    },
    {
        k: None
        for k in (
            "email",
            "phone",
            "first_name",
            "last_name",
            "city",
            "state",
            "zip_code",
            "country",
            "gender",
        )
    },  # fmt: skip
    {"email": "  SITI@EXAMPLE.COM  ", "phone": "0062 812 3456 7890", "country": "indonesia"},
    {"ctwa_clid": "clid-x", "agent_phone": "not a phone", "email": None, "phone": None},
    {
        "landing_page_url": "javascript:alert(1)",
        "client_user_agent": "UA",
        "fbc": "garbage",
        "fbp": "fb.1.x.y",
    },
    {"deal_value": -5, "deal_currency": "RP"},
]


def test_every_change_gets_exactly_one_clear_outcome_per_pixel(engine, client, konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, GOOD, token="tok", waba=" 9000 0000 0000 001 ")  # a WABA id pasted with spaces
    konektor.pixel(ws, ODD, token="tok-odd")  # not a numeric pixel id
    konektor.session(ws, "+62 812-1111-2222", "900000000000011")
    konektor.session(ws, "0812 1111 2222", "900000000000099")  # two sessions on one number
    meta.register_pixels({GOOD: "tok"})
    changes = []
    for fields in NASTY:
        lead = konektor.lead(ws, **fields)
        changes.append(konektor.change(lead, "won" if "deal_value" in fields else "new"))
    ctwa = konektor.lead(ws, ctwa_clid="clid-1", agent_phone="081211112222")
    changes.append(konektor.change(ctwa, "new"))

    summary = sync_once(engine, client)

    rows = konektor.sync_logs()
    assert sorted((r["status_change_id"], r["pixel_id"]) for r in rows) == sorted(
        (c, p) for c in changes for p in (GOOD, ODD)
    )
    assert summary["pairs"] == summary["recorded"] == 2 * len(changes)
    assert all(r["status"] == "accepted" or r["reason"] for r in rows)
    by = {(r["status_change_id"], r["pixel_id"]): r for r in rows}
    assert all("not a numeric" in by[(c, ODD)]["reason"] for c in changes)
    assert by[(changes[-1], GOOD)]["waba_id"] == "900000000000011"  # the older session wins
    assert by[(changes[5], GOOD)]["waba_id"] == "900000000000001"  # unknown agent number: the pixel's
    assert by[(changes[7], GOOD)]["status"] == "skipped"  # negative deal value
    dump = repr(rows)
    for raw in ("SITI@EXAMPLE.COM", "siti@example.com", "O'Neil", "not-an-email"):
        assert raw not in dump


def test_a_workspace_without_a_lead_source_name_still_sends(engine, client, konektor, meta):
    ws = konektor.workspace(2, source="  ")  # blank: a CRM event's lead_event_source is left out
    konektor.pixel(ws, GOOD, token="tok")
    meta.register_pixels({GOOD: "tok"})
    change = konektor.change(konektor.lead(ws, email="a@example.com"), "new")
    sync_once(engine, client)
    (row,) = konektor.sync_logs()
    assert (row["status_change_id"], row["status"]) == (change, "accepted")
    (received,) = meta.events(GOOD)
    assert received["event"]["custom_data"] == {"event_source": "crm"}
