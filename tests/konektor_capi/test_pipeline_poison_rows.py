"""Poison values in Konektor's rows, next to normal rows: each change still ends with one outcome per pixel.

Rows are inserted with plain SQL literals (not the factory), so PostgreSQL itself produces the values the
extract's COPY has to read: numeric NaN, infinite, BC and year-10000 timestamps and dates, control
characters, odd Unicode and 1 MB strings.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg2
import pytest

from tests.factory import now
from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

PIXELS = ("8100000000000001", "8100000000000002")
OFF = "8100000000000009"  # disabled: owed nothing
MB = 1 << 20

# (name, to_status, {column: SQL literal}, expected status, text the reason must contain or None)
# A literal is inserted as is; columns left out are NULL (email is set unless given).
EMAIL = "'poison@example.com'"
ROWS = [
    ("normal lead", "new", {}, "accepted", None),
    ("normal purchase", "won", {"deal_value": "150000", "deal_currency": "'IDR'"}, "accepted", None),
    ("NaN deal value, won", "won", {"deal_value": "'NaN'", "deal_currency": "'IDR'"}, "skipped",
     "leads.deal_value is not a usable number ('NaN')"),
    ("NaN deal value, new: value unused", "new", {"deal_value": "'NaN'"}, "accepted", None),
    ("created_at infinity", "new", {"created_at": "'infinity'", "fbclid": "'IwAR1abc'"}, "accepted", None),
    ("created_at -infinity", "new", {"created_at": "'-infinity'", "fbclid": "'IwAR1abc'"}, "accepted", None),
    ("created_at BC", "new", {"created_at": "'0044-03-15 10:00:00+00 BC'", "fbclid": "'IwAR1abc'"},
     "accepted", None),
    ("created_at year 10000", "new", {"created_at": "'10000-01-01 00:00:00+00'", "fbclid": "'IwAR1abc'"},
     "accepted", None),
    # No fbc can be built, but Konektor's lead id (external_id) and the country are information Meta takes.
    ("created_at infinity, click id dropped, lead id left", "new",
     {"email": "NULL", "created_at": "'infinity'", "fbclid": "'IwAR1abc'"}, "accepted", None),
    ("date_of_birth BC", "new", {"date_of_birth": "'0044-03-15 BC'"}, "accepted", None),
    ("date_of_birth year 10000", "new", {"date_of_birth": "'10000-01-01'"}, "accepted", None),
    ("date_of_birth infinity", "new", {"date_of_birth": "'infinity'"}, "accepted", None),
    ("date_of_birth -infinity", "new", {"date_of_birth": "'-infinity'"}, "accepted", None),
    ("control characters", "new",
     {"first_name": "E'\\x01Bu\\x02di\\x1f'", "last_name": "E'San\\ttos\\no\\r'", "city": "E'a\\\\b\\\\'",
      "client_user_agent": "E'Mozilla\\x01/5.0'", "fbp": "E'fb.1.1\\x7f.2'"}, "accepted", None),
    ("odd unicode", "new",
     {"first_name": "'Bu\u2028di\u2029'", "last_name": "'\u202eSantos\u200f\u200e'", "city": "'🙂🏳️‍🌈'",
      "state": "'\ufeff\ufffe'", "zip_code": "'١٢٣٤٥'"}, "accepted", None),
    ("CSV and COPY syntax", "new",
     {"first_name": "'\"'", "last_name": "'a,b\"\"c'", "city": "E'\\\\.'", "state": "E'\\\\N'",
      "zip_code": "','", "client_user_agent": "E'\\r\\n'", "gender": "'\"\"'"}, "accepted", None),
    ("1 MB strings", "new",
     {f: f"repeat('x', {MB})" for f in ("first_name", "last_name", "city", "state", "zip_code", "country",
                                         "gender", "phone", "fbc", "fbp", "client_ip", "client_user_agent",
                                         "meta_lead_id", "fbclid", "utm_source")},
     "accepted", None),
    ("1 MB email", "new", {"email": f"repeat('a', {MB}) || '@example.com'"}, "accepted", None),
    ("odd event id from the browser pixel", "new", {"event_id": "E'ev\\t1\\n\\\\,\"\u2028'"}, "accepted",
     None),
    ("currency with a control character", "won", {"deal_value": "10", "deal_currency": "E'\\x01DR'"},
     "skipped", "is not an ISO 4217 currency code"),
    ("largest deal value numeric(18, 2) holds", "won",
     {"deal_value": "9999999999999999.99", "deal_currency": "'USD'"}, "accepted", None),
]  # fmt: skip

CHANGE_COLUMNS = ("event_id",)


def _insert(conn, ws: int, lead_id: int, to_status: str, literals: dict[str, str]) -> int:
    lead = {"email": EMAIL, **{k: v for k, v in literals.items() if k not in CHANGE_COLUMNS}}
    cols = ", ".join(["id", "workspace_id", "status", *lead])
    values = ", ".join([str(lead_id), str(ws), f"'{to_status}'", *lead.values()])
    change_event_id = literals.get("event_id", "NULL")
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO leads ({cols}) VALUES ({values})")
        cur.execute(
            "INSERT INTO lead_status_changes (lead_id, to_status, changed_at, event_id) "
            f"VALUES (%s, %s, %s, {change_event_id}) RETURNING id",
            (lead_id, to_status, now() - timedelta(minutes=20)),
        )
        return cur.fetchone()[0]


@pytest.fixture
def poisoned(db_uri, konektor, meta):
    ws = konektor.workspace(1)
    for pixel in PIXELS:
        konektor.pixel(ws, pixel, token=f"tok-{pixel}")
    konektor.pixel(ws, OFF, token="tok-off", enabled=False)
    meta.register_pixels({p: f"tok-{p}" for p in PIXELS})
    conn = psycopg2.connect(db_uri)
    conn.autocommit = True
    try:
        changes = {_insert(conn, ws, 500 + i, status, literals): (name, expected, reason)
                   for i, (name, status, literals, expected, reason) in enumerate(ROWS)}  # fmt: skip
    finally:
        conn.close()
    return changes


def test_each_poison_row_ends_with_its_own_outcome_and_the_rest_are_sent(engine, client, konektor, meta,
                                                                         poisoned):  # fmt: skip
    summary = sync_once(engine, client)

    rows = konektor.sync_logs()
    assert sorted((r["status_change_id"], r["pixel_id"]) for r in rows) == sorted(
        (c, p) for c in poisoned for p in PIXELS
    )
    assert summary["pairs"] == summary["recorded"] == len(PIXELS) * len(poisoned)
    for row in rows:
        name, expected, reason = poisoned[row["status_change_id"]]
        assert (name, row["status"]) == (name, expected), row["reason"]
        if reason is not None:
            assert reason in row["reason"], (name, row["reason"])
        assert "poison@example.com" not in (row["reason"] or "")
        assert "xxxxxxxxxx" not in (row["reason"] or "")  # no raw (PII) text in a reason


def test_poison_values_never_reach_meta(engine, client, konektor, meta, poisoned):
    sync_once(engine, client)

    sent = [e["event"] for e in meta.events(PIXELS[0]) if e["event"]["event_id"].startswith("konektor-lsc-")]
    by_name = {poisoned[int(e["event_id"].removeprefix("konektor-lsc-"))][0]: e for e in sent}
    for name in ("created_at infinity", "created_at -infinity", "created_at BC", "created_at year 10000"):
        assert "fbc" not in by_name[name]["user_data"], name  # no click id built on an unusable time
        assert "em" in by_name[name]["user_data"]
    for name in ("date_of_birth BC", "date_of_birth year 10000", "date_of_birth infinity"):
        assert "db" not in by_name[name]["user_data"], name
    assert by_name["normal purchase"]["custom_data"]["value"] == 150000.0
    assert "value" not in by_name["NaN deal value, new: value unused"].get("custom_data", {})
    assert len(by_name["1 MB strings"]["user_data"].get("client_user_agent", "")) < 1001


def test_a_nul_in_metas_partial_failure_message_is_recorded_not_fatal(engine, client, konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, PIXELS[0], token="tok")
    meta.register_pixels({PIXELS[0]: "tok"})
    changes = [konektor.change(konektor.lead(ws, email=f"n{i}@example.com"), "new") for i in range(3)]
    meta.add_faults([{"kind": "partial", "messages": ["user_data\u0000 malformed"], "pixel_id": PIXELS[0]}])

    summary = sync_once(engine, client)

    rows = konektor.sync_logs()
    assert [r["status_change_id"] for r in rows] == changes
    assert summary["pairs"] == summary["recorded"] == 3
    assert {r["status"] for r in rows} == {"partial_failure"}
    assert all("user_data\ufffd malformed" in r["reason"] for r in rows)


def test_text_postgresql_cannot_hold_is_replaced_when_recording(engine):
    import pandas as pd

    from konektor_capi.outcomes import FAILED, Outcomes
    from konektor_capi.recording import OutcomeRecorder

    batch = pd.DataFrame({"status_change_id": [1], "pixel_id": ["1"], "lead_id": [2], "workspace_id": [3],
                          "waba_id": [None], "event_name": ["Lead"], "event_id": ["e\x00"],
                          "action_source": ["system_generated"], "event_time": [1_764_000_000]})  # fmt: skip
    with OutcomeRecorder(engine) as recorder:
        recorder.record(Outcomes(batch, FAILED, "lone \ud800 surrogate and \x00", "r", fbtrace_id="t\x00"))
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT event_id, reason, fbtrace_id FROM sync_logs").one()
    assert tuple(row) == ("e\ufffd", "lone ? surrogate and \ufffd", "t\ufffd")
