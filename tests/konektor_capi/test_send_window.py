"""Meta's 7-day window checked again when a batch is cut for sending (issue 14, rule 7)."""

from __future__ import annotations

import pandas as pd
import pytest

from konektor_capi.outcomes import SKIPPED
from konektor_capi.send_window import cut_expired, oldest_sendable

pytestmark = pytest.mark.unit

NOW = 1_800_000_000
DAY = 86400


def batch(*ages: int) -> pd.DataFrame:
    keys = [f"k{i}" for i in range(len(ages))]
    return pd.DataFrame({"_copy_key": keys, "pixel_id": "1", "event_name": "Lead",
                         "event_time": [NOW - age for age in ages]})  # fmt: skip


def test_an_event_validated_inside_the_window_that_crossed_it_while_queued_is_cut_with_the_reason():
    validated_at = NOW - 20 * 60  # validated 20 minutes before the send: 6 days 23:39 old then
    age_at_send = 6 * DAY + 23 * 3600 + 59 * 60  # 6 days 23:59 when its request leaves
    assert NOW - age_at_send >= oldest_sendable(validated_at)  # it passed validation
    fresh, late = cut_expired(batch(3600, age_at_send, 2 * DAY), NOW, "run-7")
    assert fresh["_copy_key"].tolist() == ["k0", "k2"]
    assert late is not None and late.status == SKIPPED and late.run_id == "run-7"
    assert late.events["_copy_key"].tolist() == ["k1"]
    (reason,) = late.reason.tolist()
    assert reason.startswith("older than Meta's 7-day window for server events (event time ")


def test_a_batch_inside_the_window_is_sent_whole():
    whole = batch(0, 6 * DAY + 23 * 3600 + 44 * 60)  # 16 minutes from the line: outside the margin
    fresh, late = cut_expired(whole, NOW, "run-7")
    assert late is None and fresh is whole
