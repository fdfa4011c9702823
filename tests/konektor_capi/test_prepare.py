"""prepare_page on pages built here: skips and batches of one page, with no database and no Meta."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from konektor_capi.delivery import Send, Skip
from konektor_capi.fanout import group_pixels
from konektor_capi.mapping import EventMapping
from konektor_capi.outcomes import copy_keys
from konektor_capi.payloads import EVENT_JSON
from konektor_capi.prepare import PrepareContext, prepare_page
from konektor_capi.sender import Batcher
from konektor_capi.waba import session_waba_lookup

pytestmark = pytest.mark.unit

NOW = pd.Timestamp("2026-11-30 12:00:00", tz="UTC")
BLOCKED = "pixel has no token (test)"


def page(*rows: dict, pixel_keys: str = "3 5") -> pd.DataFrame:
    base = {
        "status_change_id": 1, "lead_id": 7, "workspace_id": 1, "to_status": "new",
        "changed_at": NOW - pd.Timedelta(hours=1), "change_event_id": None, "default_country": "ID",
        "default_currency": "IDR", "lead_source_name": "Konektor", "email": "budi@example.com",
        "phone": "0812-3456-7890", "first_name": None, "last_name": None, "city": None, "state": None,
        "zip_code": None, "country": None, "gender": None, "date_of_birth": None, "agent_phone": None,
        "ctwa_clid": None, "fbclid": None, "fbc": None, "fbp": None, "client_ip": None,
        "client_user_agent": None, "landing_page_url": None, "meta_lead_id": None, "deal_value": math.nan,
        "deal_currency": None, "lead_created_at": NOW - pd.Timedelta(days=2), "unusable_deal_value": None,
        "unusable_changed_at": None, "unusable_lead_created_at": None, "pixel_keys": pixel_keys,
    }  # fmt: skip
    frame = pd.DataFrame([{**base, "status_change_id": i + 1, "lead_id": 100 + i, **row}
                          for i, row in enumerate(rows)])  # fmt: skip
    return frame.astype({"deal_value": "float64"})


def context(blocked: dict[int, str] | None = None, batch_size: int = 1000) -> PrepareContext:
    pixels = group_pixels(pd.DataFrame({"pixel_key": [3, 5], "pixel_id": ["111", "222"],
                                        "pixel_waba_id": [None, None]}))  # fmt: skip
    sessions = pd.DataFrame({"id": [], "workspace_id": [], "phone_number": [], "waba_id": [],
                             "default_country": []})  # fmt: skip
    return PrepareContext("run-1", EventMapping(), pixels, blocked or {}, session_waba_lookup(sessions),
                          lambda: NOW.timestamp(), Batcher(batch_size))  # fmt: skip


def sent(batches: list[Send]) -> list[tuple[int, str]]:
    return sorted((send.pixel_key, json.loads(body)["event_id"])
                  for send in batches for body in send.batch[EVENT_JSON])  # fmt: skip


def test_a_blocked_pixel_skips_its_pairs_and_the_others_are_encoded_and_held_for_a_full_batch():
    ctx = context({5: BLOCKED})
    prepared = prepare_page(page({}, {}, {"to_status": "won", "deal_value": 10.0}), ctx)

    (skip,) = prepared.skips
    assert isinstance(skip, Skip) and skip.outcomes.reason == BLOCKED and skip.outcomes.status == "skipped"
    assert skip.outcomes.events["pixel_id"].tolist() == ["222"] * 3
    assert EVENT_JSON not in skip.outcomes.events and len(copy_keys(skip.outcomes.events)) == 3
    assert prepared.batches == []  # 3 events: less than a batch, held for the next page
    flushed = list(ctx.flush())
    assert [send.pixel_key for send in flushed] == [3] and len(flushed[0].batch) == 3
    bodies = [json.loads(body) for body in flushed[0].batch[EVENT_JSON]]
    assert sorted(b["event_name"] for b in bodies) == ["Lead", "Lead", "Purchase"]
    assert all("budi@example.com" not in json.dumps(b) for b in bodies)  # raw PII never leaves hashed
    assert all(len(b["user_data"]["em"]) == 64 for b in bodies)  # SHA-256, hex
    assert sorted(prepared.ready["pixel_id"]) == ["111"] * 3
    assert prepared.validation is not None


def test_events_meta_would_refuse_or_that_would_age_past_seven_days_in_flight_are_skipped_with_reasons():
    too_old = NOW - pd.Timedelta(days=8)
    at_the_line = NOW - pd.Timedelta(days=7) + pd.Timedelta(minutes=5)  # inside SEND_MARGIN
    prepared = prepare_page(page({"changed_at": too_old}, {"changed_at": at_the_line}, {}, pixel_keys="3"),
                            context())  # fmt: skip

    (skip,) = prepared.skips
    reasons = skip.outcomes.reason.tolist()
    assert len(reasons) == 2 and all("7-day window" in r for r in reasons)
    assert prepared.ready["pixel_id"].tolist() == ["111"]
    assert len(skip.outcomes.events) == 2


def test_batches_are_cut_across_pages_per_pixel_and_each_pair_goes_exactly_once():
    ctx = context(batch_size=2)
    first = prepare_page(page({}, {}, {}), ctx)
    second = prepare_page(page({"status_change_id": 10, "lead_id": 200}, pixel_keys="5"), ctx)
    batches = first.batches + second.batches + list(ctx.flush())

    assert all(len(send.batch) <= 2 for send in batches)
    assert [len(s.batch) for s in first.batches] == [2, 2]  # one full batch per pixel, 1 held per pixel
    assert [(s.pixel_key, len(s.batch)) for s in second.batches] == [(5, 2)]  # the held one + page 2's
    pairs = sent(batches)
    assert len(pairs) == len(set(pairs)) == 7
    assert [k for k, _ in pairs].count(3) == 3 and [k for k, _ in pairs].count(5) == 4


def test_preparing_is_pure_the_same_page_gives_the_same_events_and_leaves_the_page_as_it_was():
    original = page({}, {"to_status": "won", "deal_value": 5.0})
    frame = original.copy()
    one, two = context(batch_size=2), context(batch_size=2)
    a, b = prepare_page(frame, one), prepare_page(frame, two)
    pd.testing.assert_frame_equal(frame, original)
    assert sent(a.batches) == sent(b.batches) and len(sent(a.batches)) == 4


@pytest.mark.parametrize("keys", ["3", "3 5"])
def test_a_page_whose_every_pixel_is_blocked_yields_only_skips(keys):
    prepared = prepare_page(page({}, {}, pixel_keys=keys), context({3: BLOCKED, 5: BLOCKED}))
    assert prepared.batches == [] and prepared.ready is None and prepared.validation is None
    assert sum(len(s.outcomes.events) for s in prepared.skips) == 2 * len(keys.split())


class Stages:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def on_stage(self, name: str, seconds: float, rows: int) -> None:
        assert seconds >= 0
        self.seen.append((name, rows))


def test_each_stage_of_a_page_is_reported_to_the_observer_with_the_rows_it_took():
    ctx = context({5: BLOCKED})
    ctx.observer = Stages()
    prepare_page(page({}, {}, {}, {"to_status": "won", "deal_value": 1.0}), ctx)
    # 4 changes normalised; 8 (change, pixel) pairs built; the 4 of the unblocked pixel validated
    # sync_logs' COPY text is the recorder's (at record time); GX's set-up is reported once per process
    seen = [stage for stage in ctx.observer.seen if stage[0] != "gx_setup"]
    assert seen == [("normalise", 4), ("build", 0), ("build", 0), ("build", 8), ("validate", 4)]
