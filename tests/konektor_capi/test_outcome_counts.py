"""One tally of outcomes, from the recorder to the run's summary."""

from __future__ import annotations

import pandas as pd
import pytest

from konektor_capi.outcome_counts import OutcomeCounts
from konektor_capi.outcomes import ACCEPTED, FAILED, PARTIAL, SKIPPED, Outcomes

pytestmark = pytest.mark.unit


def events(pixels: list[str], names: list[str | None] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"pixel_id": pixels, "event_name": names or ["Lead"] * len(pixels)})


def test_counts_by_pixel_event_and_status_with_a_dash_for_no_event_name():
    counts = OutcomeCounts()
    counts.add(Outcomes(events(["1", "1", "2"]), ACCEPTED, None, "r"))
    counts.add(Outcomes(events(["1", "2"], [None, "Purchase"]), SKIPPED, pd.Series(["a", "b"]), "r"))
    assert counts.outcomes == {("1", "Lead", ACCEPTED): 2, ("2", "Lead", ACCEPTED): 1,
                               ("1", "-", SKIPPED): 1, ("2", "Purchase", SKIPPED): 1}  # fmt: skip
    assert counts.reasons == {(SKIPPED, "a"): 1, (SKIPPED, "b"): 1}


def test_failures_are_per_pixel_and_reason_and_make_the_failed_total():
    counts = OutcomeCounts()
    counts.add(Outcomes(events(["1", "1", "2"]), FAILED, "meta error 2: down", "r"))
    counts.add(Outcomes(events(["1"]), PARTIAL, "meta took 0 of 1 events", "r"))
    assert counts.failed == 3
    assert counts.failures == {("1", "meta error 2: down"): 2, ("2", "meta error 2: down"): 1}
    assert counts.failure_summary() == "pixel 1: 2 (meta error 2: down); pixel 2: 1 (meta error 2: down)"


def test_reasons_are_counted_as_stored_so_the_summary_fits_in_jsonb():
    counts = OutcomeCounts()
    counts.add(Outcomes(events(["1"]), FAILED, "nul \x00 here", "r"))
    counts.add(Outcomes(events(["1"]), SKIPPED, pd.Series(["lone \ud800"]), "r"))
    assert set(counts.reasons) == {(FAILED, "nul \ufffd here"), (SKIPPED, "lone ?")}


def test_top_reasons_commonest_first_then_by_status_and_text_as_the_sql_orders_them():
    counts = OutcomeCounts()
    for reason, n in (("b", 2), ("a", 2), ("c", 5)):
        counts.add(Outcomes(events(["1"] * n), SKIPPED, reason, "r"))
    assert counts.top_reasons(2) == [(SKIPPED, "c", 5), (SKIPPED, "a", 2)]


def test_a_dry_run_counts_what_it_would_send():
    counts = OutcomeCounts()
    ready = pd.DataFrame({"pixel_id": ["1", "1"], "event_name": ["Lead"] * 2,
                          "action_source": ["system_generated", "business_messaging"]})  # fmt: skip
    counts.add_would_send(ready)
    assert counts.would_send == {("1", "Lead", "system_generated"): 1, ("1", "Lead", "business_messaging"): 1}


def test_groups_json_adds_up_to_the_runs_in_the_run_summarys_shape():
    first, second = OutcomeCounts(), OutcomeCounts()
    first.add(Outcomes(events(["1", "1"]), SKIPPED, "no value", "r"))
    second.add(Outcomes(events(["1"]), SKIPPED, "no value", "r"))
    second.add_would_send(pd.DataFrame({"pixel_id": ["2"], "event_name": ["Lead"],
                                        "action_source": ["system_generated"]}))  # fmt: skip
    total = OutcomeCounts()
    for group in (first, second):
        total.update(OutcomeCounts.from_dict(group.to_dict()))
    data = total.to_dict()
    assert data["outcomes"] == [{"pixel_id": "1", "event_name": "Lead", "status": SKIPPED, "n": 3}]
    assert data["top_reasons"] == [{"status": SKIPPED, "reason": "no value", "n": 3}]
    assert data["would_send"] == [{"pixel_id": "2", "event_name": "Lead", "action_source": "system_generated",
                                   "n": 1}]  # fmt: skip
