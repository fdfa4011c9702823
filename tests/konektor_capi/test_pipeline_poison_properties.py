"""Property: whatever Konektor's rows hold, every change ends with exactly one outcome per enabled pixel.

Hypothesis generates a workspace (odd default country and currency, a session and a pixel WABA of any
text) and leads (text with control characters and odd Unicode, numeric NaN and extremes,
dates and timestamps of 'infinity', BC and year 10000, NULL nearly everywhere) that PostgreSQL
stores, and the real pipeline syncs them against the emulator. One database per test; the tables are
emptied between examples.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factory import now
from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

PIXELS = ("8200000000000001", "8200000000000002")
OFF = "8200000000000003"
MAPPED = ("new", "qualified", "won", "resubscribed")
_runs = itertools.count()

SPECIAL_TEXT = ["", " ", "\\", "\\.", "\\N", '"', "'", ",", "\t", "\r\n", "NaN", "null", "NULL", "infinity",
                "\u2028", "\u202e\u200f", "🙂", "\x01\x7f", "x" * 2000, "a@b.co", "+62 812-3456-7890",
                "IwAR1abc", "fb.1.1.2", "9000000000001", "WABA-ABC"]  # fmt: skip
# Any Unicode PostgreSQL text can hold: no NUL, no surrogates.
text = st.one_of(
    st.none(),
    st.sampled_from(SPECIAL_TEXT),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
)
# SQL literals: what numeric(18, 2), date and timestamptz can store, edge cases first.
numeric = st.one_of(
    st.sampled_from(["NULL", "'NaN'", "0", "-0.01", "0.01", "9999999999999999.99", "-9999999999999999.99"]),
    st.decimals(min_value=-(10**15), max_value=10**15, places=2, allow_nan=False).map(str),
)
dates = st.one_of(
    st.sampled_from(
        [
            "NULL",
            "'infinity'",
            "'-infinity'",
            "'0044-03-15 BC'",
            "'10000-01-01'",
            "'1899-12-31'",
            "'5874897-12-31'",
            "'4713-01-01 BC'",
            "current_date + 1",
        ]
    ),  # fmt: skip
    st.dates().map(lambda d: f"'{d.isoformat()}'"),
)
stamps = st.one_of(
    st.sampled_from(["'infinity'", "'-infinity'", "'0044-03-15 10:00:00+00 BC'", "'10000-01-01 00:00:00+00'",
                     "'294276-12-31 23:59:59+00'", "'1970-01-01 00:00:00+00'", "now()", "now() + '2 days'"]),
    st.datetimes().map(lambda d: f"'{d.isoformat()}+00'"),
)  # fmt: skip
TEXT_COLUMNS = ("email", "phone", "first_name", "last_name", "city", "state", "zip_code", "country", "gender",
                "agent_phone", "ctwa_clid", "fbclid", "fbc", "fbp", "client_ip", "client_user_agent",
                "landing_page_url", "meta_lead_id")  # fmt: skip
lead = st.fixed_dictionaries(
    {
        **{c: text for c in TEXT_COLUMNS},
        "deal_currency": st.one_of(
            st.none(),
            st.text(max_size=3).filter(lambda t: "\x00" not in t),
            st.sampled_from(["IDR", "usd", " EU"]),
        ),  # fmt: skip
        "deal_value": numeric,
        "date_of_birth": dates,
        "created_at": stamps,
        "to_status": st.sampled_from([*MAPPED, "lost"]),
        "event_id": text,
    }
)


workspace = st.fixed_dictionaries(
    {
        "default_country": st.one_of(st.sampled_from(["ID", "US", "ZZ", "  ", "id"]), st.text(max_size=2)),
        "default_currency": st.one_of(st.sampled_from(["IDR", "usd", "   "]), st.text(max_size=3)),
        "lead_source_name": st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=20)),
        "session_phone": st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=20)),
        "session_waba": text,
        "pixel_waba": text,
    }
).filter(lambda w: not any("\x00" in v for v in w.values() if isinstance(v, str)))


def _reset(conn, ws: dict) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "TRUNCATE lead_status_changes, leads, whatsapp_sessions, meta_pixels, workspaces, "
            "sync_logs, sync_runs, sync_run_groups, sync_watermark"
        )
        cur.execute("INSERT INTO workspaces (id, name, default_country, default_currency, lead_source_name) "
                    "VALUES (1, 'ws', %s, %s, %s)",
                    (ws["default_country"], ws["default_currency"], ws["lead_source_name"]))  # fmt: skip
        cur.execute("INSERT INTO meta_pixels (workspace_id, pixel_id, capi_access_token, "
                    "whatsapp_business_account_id, enabled) VALUES (1, %s, 'tok-1', %s, true), "
                    "(1, %s, 'tok-2', '9000000000002', true), (1, %s, 'tok-3', NULL, false)",
                    (PIXELS[0], ws["pixel_waba"], PIXELS[1], OFF))  # fmt: skip
        cur.execute("INSERT INTO whatsapp_sessions (workspace_id, phone_number, "
                    "whatsapp_business_account_id) "
                    "VALUES (1, '+62 812-3456-7890', '9000000000001'), (1, %s, %s)",
                    (ws["session_phone"], ws["session_waba"]))  # fmt: skip


def _insert(conn, ws: int, lead_id: int, row: dict) -> None:
    literals = ("deal_value", "date_of_birth", "created_at")
    cols = ["id", "workspace_id", "status", *TEXT_COLUMNS, "deal_currency", *literals]
    values = ["%s"] * (4 + len(TEXT_COLUMNS)) + [row[c] for c in literals]
    params = [lead_id, ws, row["to_status"], *(row[c] for c in TEXT_COLUMNS), row["deal_currency"]]
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO leads ({', '.join(cols)}) VALUES ({', '.join(values)})", params)
        cur.execute("INSERT INTO lead_status_changes (lead_id, to_status, changed_at, event_id) "
                    "VALUES (%s, %s, %s, %s)",
                    (lead_id, row["to_status"], now() - timedelta(minutes=20), row["event_id"]))  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ws=workspace, rows=st.lists(lead, min_size=1, max_size=6))
def test_any_rows_end_with_one_outcome_per_enabled_pixel(db_uri, engine, client, konektor, meta, ws, rows):
    meta.register_pixels({PIXELS[0]: "tok-1", PIXELS[1]: "tok-2"})
    conn = psycopg2.connect(db_uri)
    conn.autocommit = True
    try:
        _reset(conn, ws)
        normal = {"to_status": "new", "email": "normal@example.com", "deal_value": "NULL",
                  "date_of_birth": "NULL", "created_at": "now()"}  # fmt: skip
        rows = [{**dict.fromkeys((*TEXT_COLUMNS, "deal_currency", "event_id")), **normal}, *rows]
        for i, row in enumerate(rows):
            _insert(conn, 1, 1000 + i, row)
    finally:
        conn.close()

    summary = sync_once(engine, client, f"prop-{next(_runs)}")

    logs = konektor.sync_logs()
    owed = sum(row["to_status"] in MAPPED for row in rows)
    assert summary["pairs"] == summary["recorded"] == len(logs) == owed * len(PIXELS)
    assert len({(r["status_change_id"], r["pixel_id"]) for r in logs}) == len(logs)
    assert {r["pixel_id"] for r in logs} <= set(PIXELS)
    assert all(r["status"] in ("accepted", "skipped") for r in logs), [r["reason"] for r in logs]
    assert all(r["status"] == "accepted" or r["reason"] for r in logs)
    if ws["default_currency"] == "IDR" and ws["default_country"] == "ID":
        assert {r["status"] for r in logs if r["lead_id"] == 1000} == {"accepted"}  # the normal row
