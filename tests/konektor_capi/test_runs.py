from datetime import UTC, datetime

import pytest

from konektor_capi.runs import BACKFILL, HOURLY, run_request

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
START = datetime(2026, 11, 25, 11, tzinfo=UTC)
END = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_scheduled_run_is_hourly_up_to_its_interval_end():
    req = run_request({}, "scheduled", START, END, NOW)
    assert req["mode"] == HOURLY and req["window_end"] == END and req["window_start"] is None


def test_manual_run_without_params_is_hourly_up_to_now_when_it_has_no_interval():
    assert run_request(None, "manual", None, None, NOW)["window_end"] == NOW


@pytest.mark.parametrize("run_type", ["manual", "DagRunType.MANUAL", "asset_triggered"])
def test_a_run_a_person_started_covers_up_to_now_not_its_interval_end(run_type):
    # `make sync` at 12:30 sends the change made at 12:20; the schedule's 12:00 run would wait for 13:00.
    req = run_request({}, run_type, START, END, NOW)
    assert req["mode"] == HOURLY and req["window_end"] == NOW


def test_backfill_create_runs_process_their_data_interval():
    req = run_request({}, "backfill", START, END, NOW)
    assert (req["mode"], req["window_start"], req["window_end"]) == (BACKFILL, START, END)


def test_params_make_a_backfill_of_that_range_with_filters():
    req = run_request(
        {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00+07:00", "pixel_ids": [123, "456"],
         "dry_run": True, "test_event_code": "TEST1"},
        "manual", None, END, NOW,
    )  # fmt: skip
    assert req["mode"] == BACKFILL
    assert req["window_start"] == datetime(2026, 11, 20, tzinfo=UTC)
    assert req["window_end"] == datetime(2026, 11, 20, 17, tzinfo=UTC)
    assert req["pixel_ids"] == ["123", "456"] and req["dry_run"] is True and req["test_event_code"] == "TEST1"


def test_backfill_without_end_runs_to_now():
    assert run_request({"start": "2026-11-20T00:00:00Z"}, "manual", None, END, NOW)["window_end"] == NOW


@pytest.mark.parametrize("params", [{"start": "2026-11-20T00:00:00"}, {"end": "2026-11-20T00:00:00Z"}])
def test_naive_times_and_a_missing_start_are_refused(params):
    with pytest.raises(ValueError):
        run_request(params, "manual", None, END, NOW)
