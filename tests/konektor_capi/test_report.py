"""What an operator reads in a sync task's log and at the end of a run."""

from __future__ import annotations

import pytest

from konektor_capi.report import format_group_summary, format_summary

pytestmark = pytest.mark.unit

SUMMARY = {
    "outcomes": [
        {"pixel_id": "111", "event_name": "Lead", "status": "accepted", "n": 7},
        {"pixel_id": "111", "event_name": "Lead", "status": "skipped", "n": 2},
        {"pixel_id": "222", "event_name": "Purchase", "status": "failed", "n": 3},
    ],
    "top_reasons": [{"status": "skipped", "reason": "won lead has no deal value", "n": 2}],
    "requests": 4,
    "failed": 3,
    "leased_elsewhere": [9],
}
VALIDATION = {
    "rows": 12,
    "failed_rows": 2,
    "expectations": [
        {"rule": "event_name_mapped", "description": "maps", "success": True, "checked_rows": 12,
         "unexpected_count": 0},
        {"rule": "purchase_has_value", "description": "a Purchase has a deal value", "success": False,
         "checked_rows": 5, "unexpected_count": 2},
    ],
}  # fmt: skip


def _row(text: str, first: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if line.startswith(first))


def test_a_group_summary_is_a_table_per_pixel_and_event_with_totals():
    text = format_group_summary("workspace 1", SUMMARY, [VALIDATION])
    assert text.splitlines()[0] == "workspace 1: 4 request(s), 3 failed event(s)"
    assert _row(text, "111 ") == ["111", "Lead", "7", "0", "0", "2"]
    assert _row(text, "222 ") == ["222", "Purchase", "0", "0", "3", "0"]
    assert _row(text, "total") == ["total", "7", "0", "3", "2"]
    assert "        2  won lead has no deal value" in text
    assert "left to another run holding their lease: workspace(s) 9" in text


def test_only_the_validation_rules_rows_failed_are_listed():
    text = format_group_summary("workspace 1", SUMMARY, [VALIDATION])
    assert "validation: 2 of 12 row(s) failed a rule:" in text
    assert "2 of 5       purchase_has_value: a Purchase has a deal value" in text
    assert "event_name_mapped" not in text
    assert "{" not in text  # no Python dict left for a person to parse


def test_the_run_summary_keeps_its_window_line_and_table():
    outcomes = [{"pixel_id": "111", "event_name": "Lead", "status": "skipped", "n": 4}]
    summary = {"window_start": "a", "window_end": "b", "mode": "hourly", "dry_run": True}
    summary["outcomes"] = outcomes
    text = format_summary(summary)
    assert text.splitlines()[0] == "window a .. b (hourly, dry run)"
    assert _row(text, "111 ") == ["111", "Lead", "0", "0", "0", "4"]
