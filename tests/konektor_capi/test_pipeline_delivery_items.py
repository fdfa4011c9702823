"""What crosses from preparing to delivery, and how delivery records it, on the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from konektor_capi import sinks
from konektor_capi.delivery import Send, Skip
from konektor_capi.outcomes import SKIPPED, Outcomes, copy_keys
from konektor_capi.payloads import EVENT_JSON
from konektor_capi.recording import OutcomeRecorder
from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

SENDS, NO_TOKEN = "8100000000000001", "8100000000000002"


CLICK_ONLY = {"email": None, "phone": None, "first_name": None, "last_name": None, "city": None,
              "zip_code": None, "country": None, "gender": None}  # fmt: skip


def test_skips_cross_without_their_encoded_events_and_sends_with_them(engine, client, konektor, meta,
                                                                      monkeypatch):  # fmt: skip
    ws = konektor.workspace(1)
    konektor.pixel(ws, SENDS, token="tok-1")
    konektor.pixel(ws, NO_TOKEN, token=None)
    meta.register_pixels({SENDS: "tok-1"})
    for i in range(20):
        clid = "clid" if i % 4 == 0 else None  # 5 Click-to-WhatsApp leads, no WABA anywhere
        # ... with nothing but the click: they cannot go as CRM events either
        contact = {"email": f"lead{i}@example.com"} if clid is None else CLICK_ONLY
        lead = konektor.lead(ws, ctwa_clid=clid, agent_phone=None, **contact)
        konektor.change(lead, "new")
    items: list = []
    original = sinks.deliver_in_thread

    def watching(work, *args):
        return original((items.append(item) or item for item in work), *args)

    monkeypatch.setattr(sinks, "deliver_in_thread", watching)

    summary = sync_once(engine, client)

    skips = [i for i in items if isinstance(i, Skip)]
    sends = [i for i in items if isinstance(i, Send)]
    assert sum(len(s.outcomes) for s in skips) == 20 + 5  # the token-less pixel's, and 5 CTWA without WABA
    assert all(EVENT_JSON not in s.outcomes.events for s in skips)
    assert all(len(copy_keys(s.outcomes.events)) == len(s.outcomes) for s in skips)  # what sync_logs keys
    assert sum(len(s.batch) for s in sends) == 15 and all(s.batch[EVENT_JSON].notna().all() for s in sends)
    assert summary["recorded"] == summary["pairs"] == 40


def test_outcomes_with_any_text_are_recorded_as_given(engine, konektor):
    reasons = ["Café — «no» 🙂 \u00e9", "tab\there\nnewline \\ backslash", "plain"]
    events = pd.DataFrame({
        "status_change_id": [1, 2, 3], "pixel_id": ["9"] * 3, "lead_id": [1] * 3, "workspace_id": [1] * 3,
        "waba_id": [None] * 3, "event_name": ["Lead"] * 3, "event_id": ["é-1", "e-2", "e-3"],
        "action_source": ["system_generated"] * 3,
        "event_time": [int(datetime(2026, 11, 20, tzinfo=UTC).timestamp())] * 3,
    })  # fmt: skip
    with OutcomeRecorder(engine) as recorder:
        recorder.record(Outcomes(events, SKIPPED, pd.Series(reasons), "run-é"))

    rows = sorted(konektor.sync_logs(), key=lambda r: r["status_change_id"])
    assert [r["reason"] for r in rows] == reasons
    assert [r["event_id"] for r in rows] == ["é-1", "e-2", "e-3"]
    assert {r["run_id"] for r in rows} == {"run-é"}
