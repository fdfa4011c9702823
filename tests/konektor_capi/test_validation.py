import json
import math

import numpy as np
import pandas as pd
import pytest

from konektor_capi import validation
from konektor_capi.validation import validate_events

pytestmark = pytest.mark.unit

NOW = 1_760_000_000  # 2025-10-09 08:53:20 UTC
DAY = 86400

NO_MAPPING_LOST = "status 'lost' has no Meta event mapping"
NO_VALUE = "won lead has no deal value (Meta rejects a Purchase without value)"
VALUE_NOT_POSITIVE = "won lead's deal value is not greater than 0 (Meta needs a positive Purchase value)"
NO_CURRENCY = "won lead has no deal currency (Meta needs a 3-letter ISO 4217 code with the value)"
NO_WABA = (
    "no WhatsApp Business Account ID: no session WABA for the agent's number and none on the pixel "
    "(Meta would reject it: Missing Page ID Or WhatsApp Business account ID), and nothing else to match it "
    "on as a CRM event"
)
NO_CTWA = (
    "no Click-to-WhatsApp click id (ctwa_clid): Meta cannot attribute a business-messaging event without it"
)
NO_URL = "website event has no page URL (Meta requires event_source_url for website events)"
BAD_URL = "website event's page URL does not start with http:// or https://"
NO_USER_AGENT = "website event has no browser user agent (Meta requires client_user_agent for website events)"
NO_IDENTIFIER = "customer information too weak for Meta to match"


def too_old(event_time_utc: str) -> str:
    return f"older than Meta's 7-day window for server events (event time {event_time_utc})"


def bad_currency(currency: str) -> str:
    return f"deal currency '{currency}' is not an ISO 4217 currency code"


def in_future(seconds: int) -> str:
    return f"event time is in the future ({seconds} s after the run's clock)"


WEBSITE_LEAD = {
    "to_status": "new",
    "event_name": "Lead",
    "event_time": NOW - 3600,
    "action_source": "website",
    "event_source_url": "https://shop.example/landing",
    "client_user_agent": "Mozilla/5.0",
    "value": math.nan,
    "currency": None,
    "ctwa_clid": None,
    "waba_id": None,
    "n_identifiers": 2,
}
WHATSAPP_PURCHASE = {
    "to_status": "won",
    "event_name": "Purchase",
    "event_time": NOW - 2 * DAY,
    "action_source": "business_messaging",
    "event_source_url": None,
    "client_user_agent": None,
    "value": 150000.0,
    "currency": "IDR",
    "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
    "waba_id": "104729384756",
    "n_identifiers": 1,
}
CRM_SUBSCRIBE = {
    "to_status": "resubscribed",
    "event_name": "Subscribe",
    "event_time": NOW - 6 * DAY,
    "action_source": "system_generated",
    "event_source_url": None,
    "client_user_agent": None,
    "value": math.nan,
    "currency": None,
    "ctwa_clid": None,
    "waba_id": None,
    "n_identifiers": 3,
}
VALID = (WEBSITE_LEAD, WHATSAPP_PURCHASE, CRM_SUBSCRIBE)


def events(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"status_change_id": i + 1, "pixel_id": "1234567890", **row} for i, row in enumerate(rows)]
    )
    return frame.astype({"status_change_id": "int64", "event_time": "int64", "value": "float64"})


def reasons_of(*rows: dict, now: int = NOW) -> list:
    return validate_events(events(*rows), now).reasons.tolist()


def test_valid_events_of_every_action_source_get_no_reason():
    outcome = validate_events(events(*VALID), NOW)

    assert outcome.reasons.tolist() == [None, None, None]
    assert outcome.summary["failed_rows"] == 0
    assert outcome.summary["success"] is True


@pytest.mark.parametrize(
    ("base", "change", "reason"),
    [
        pytest.param(
            WEBSITE_LEAD, {"to_status": "lost", "event_name": None}, NO_MAPPING_LOST, id="no-mapping"
        ),
        pytest.param(
            WEBSITE_LEAD, {"event_time": NOW - 7 * DAY - 1}, too_old("2025-10-02 08:53:19 UTC"), id="too-old"
        ),
        pytest.param(WEBSITE_LEAD, {"event_time": NOW + 61}, in_future(61), id="future"),
        pytest.param(WHATSAPP_PURCHASE, {"value": math.nan}, NO_VALUE, id="purchase-no-value"),
        pytest.param(WHATSAPP_PURCHASE, {"value": 0.0}, VALUE_NOT_POSITIVE, id="purchase-zero-value"),
        pytest.param(WHATSAPP_PURCHASE, {"value": -10.0}, VALUE_NOT_POSITIVE, id="purchase-negative-value"),
        pytest.param(WHATSAPP_PURCHASE, {"currency": None}, NO_CURRENCY, id="purchase-no-currency"),
        pytest.param(WHATSAPP_PURCHASE, {"currency": "idr"}, bad_currency("idr"), id="currency-lowercase"),
        pytest.param(WHATSAPP_PURCHASE, {"currency": "RP"}, bad_currency("RP"), id="currency-2-letters"),
        pytest.param(WHATSAPP_PURCHASE, {"currency": "IDRX"}, bad_currency("IDRX"), id="currency-4-letters"),
        pytest.param(WHATSAPP_PURCHASE, {"currency": "IDR\n"}, bad_currency("IDR\n"), id="currency-newline"),
        pytest.param(WHATSAPP_PURCHASE, {"currency": "XYZ"}, bad_currency("XYZ"), id="currency-not-iso-4217"),
        pytest.param(WHATSAPP_PURCHASE, {"currency": "XXX"}, bad_currency("XXX"), id="currency-no-currency"),
        pytest.param(WHATSAPP_PURCHASE, {"waba_id": None}, NO_WABA, id="messaging-no-waba"),
        pytest.param(WHATSAPP_PURCHASE, {"ctwa_clid": None}, NO_CTWA, id="messaging-no-ctwa-clid"),
        pytest.param(WEBSITE_LEAD, {"event_source_url": None}, NO_URL, id="website-no-url"),
        pytest.param(
            WEBSITE_LEAD, {"event_source_url": "shop.example/landing"}, BAD_URL, id="website-no-scheme"
        ),
        pytest.param(
            WEBSITE_LEAD, {"event_source_url": "ftp://shop.example/"}, BAD_URL, id="website-ftp-url"
        ),
        pytest.param(WEBSITE_LEAD, {"client_user_agent": None}, NO_USER_AGENT, id="website-no-user-agent"),
        pytest.param(CRM_SUBSCRIBE, {"n_identifiers": 0}, NO_IDENTIFIER, id="no-identifier"),
    ],
)
def test_each_rule_fails_only_the_breaking_row_with_its_reason(base, change, reason):
    # The breaking row sits between valid rows of every kind, so a rule that leaks onto them shows.
    outcome = validate_events(events(*VALID, {**base, **change}, *VALID), NOW)

    assert outcome.reasons.tolist() == [None] * 3 + [reason] + [None] * 3
    assert outcome.summary["failed_rows"] == 1


@pytest.mark.parametrize(
    "row",
    [
        pytest.param({**WEBSITE_LEAD, "event_time": NOW - 7 * DAY}, id="exactly-7-days-old"),
        pytest.param({**WEBSITE_LEAD, "event_time": NOW + 60}, id="60-s-ahead"),
        pytest.param({**CRM_SUBSCRIBE, "value": math.nan, "currency": "bogus"}, id="non-purchase-value-free"),
        pytest.param({**WHATSAPP_PURCHASE, "event_source_url": None}, id="messaging-needs-no-url"),
        pytest.param(
            {
                **WHATSAPP_PURCHASE,
                "action_source": "website",
                "event_source_url": "http://shop.example",
                "client_user_agent": "Mozilla/5.0",
                "waba_id": None,
                "ctwa_clid": None,
            },
            id="website-purchase-needs-no-waba",
        ),
        pytest.param({**CRM_SUBSCRIBE, "n_identifiers": 1}, id="one-identifier"),
    ],
)
def test_rows_on_the_edge_of_a_rule_or_outside_its_condition_pass(row):
    assert reasons_of(row) == [None]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        pytest.param(
            {
                **WHATSAPP_PURCHASE,
                "to_status": "lost",
                "event_name": None,
                "event_time": NOW - 30 * DAY,
                "value": math.nan,
                "currency": None,
                "waba_id": None,
                "ctwa_clid": None,
                "n_identifiers": 0,
            },
            NO_MAPPING_LOST,
            id="mapping-before-everything",
        ),
        pytest.param(
            {
                **WHATSAPP_PURCHASE,
                "event_time": NOW - 8 * DAY,
                "value": math.nan,
                "currency": "x",
                "waba_id": None,
                "n_identifiers": 0,
            },
            too_old("2025-10-01 08:53:20 UTC"),
            id="time-before-value",
        ),
        pytest.param(
            {**WHATSAPP_PURCHASE, "value": math.nan, "currency": "x", "waba_id": None, "ctwa_clid": None},
            NO_VALUE,
            id="value-before-currency-and-waba",
        ),
        pytest.param(
            {**WHATSAPP_PURCHASE, "currency": "x", "waba_id": None, "ctwa_clid": None, "n_identifiers": 0},
            bad_currency("x"),
            id="currency-before-waba",
        ),
        pytest.param(
            {**WHATSAPP_PURCHASE, "waba_id": None, "ctwa_clid": None, "n_identifiers": 0},
            NO_WABA,
            id="waba-before-ctwa-clid",
        ),
        pytest.param(
            {**WHATSAPP_PURCHASE, "ctwa_clid": None, "n_identifiers": 0},
            NO_CTWA,
            id="ctwa-before-identifiers",
        ),
        pytest.param(
            {**WEBSITE_LEAD, "event_source_url": "www.x", "client_user_agent": None, "n_identifiers": 0},
            BAD_URL,
            id="url-before-user-agent",
        ),
        pytest.param(
            {**WEBSITE_LEAD, "client_user_agent": None, "n_identifiers": 0},
            NO_USER_AGENT,
            id="user-agent-before-identifiers",
        ),
    ],
)
def test_a_row_breaking_several_rules_gets_the_first_in_priority_order(row, reason):
    assert reasons_of(row) == [reason]


def test_each_row_without_mapping_names_its_own_status():
    rows = [{**CRM_SUBSCRIBE, "to_status": status, "event_name": None} for status in ("lost", "spam")]

    assert reasons_of(*rows, WEBSITE_LEAD) == [
        "status 'lost' has no Meta event mapping",
        "status 'spam' has no Meta event mapping",
        None,
    ]


def test_the_7_day_window_moves_with_now_between_calls_on_the_cached_suite():
    row = {**WEBSITE_LEAD, "event_time": NOW - 5 * DAY}

    assert reasons_of(row, now=NOW) == [None]
    assert reasons_of(row, now=NOW + 3 * DAY) == [too_old("2025-10-04 08:53:20 UTC")]
    assert reasons_of(row, now=NOW - 5 * DAY - 61) == [in_future(61)]


def test_reasons_keep_the_callers_index_even_when_named_or_repeated():
    frame = events({**WEBSITE_LEAD, "n_identifiers": 0}, WEBSITE_LEAD, {**CRM_SUBSCRIBE, "waba_id": None})
    frame.index = pd.Index(["b", "a", "a"], name="event_key")

    reasons = validate_events(frame, NOW).reasons

    assert reasons.index.equals(frame.index)
    assert reasons.tolist() == [NO_IDENTIFIER, None, None]


def test_an_empty_frame_validates_to_no_reasons_and_zero_counts():
    outcome = validate_events(events(WEBSITE_LEAD).iloc[0:0], NOW)

    assert outcome.reasons.empty
    assert outcome.summary["rows"] == 0
    assert outcome.summary["failed_rows"] == 0
    assert [e["unexpected_count"] for e in outcome.summary["expectations"]] == [0] * len(validation.RULES)


def test_summary_counts_every_breaking_row_per_expectation_and_each_failed_row_once():
    frame = events(
        {**WEBSITE_LEAD, "to_status": "lost", "event_name": None, "n_identifiers": 0},
        {**WEBSITE_LEAD, "n_identifiers": 0},
        {**WHATSAPP_PURCHASE, "waba_id": None},
        {**WHATSAPP_PURCHASE, "value": math.nan},
        WHATSAPP_PURCHASE,
        CRM_SUBSCRIBE,
    )

    summary = validate_events(frame, NOW).summary

    by_rule = {e["rule"]: e for e in summary["expectations"]}
    assert list(by_rule) == [rule.name for rule in validation.RULES]
    assert by_rule["event_name_mapped"] == {
        "rule": "event_name_mapped",
        "description": "the lead status maps to a Meta event name",
        "expectation": "expect_column_values_to_not_be_null",
        "column": "event_name",
        "condition": None,
        "success": False,
        "checked_rows": 6,
        "unexpected_count": 1,
    }
    counts = {rule: (e["success"], e["checked_rows"], e["unexpected_count"]) for rule, e in by_rule.items()}
    # GX counts every row breaking a rule, also the one already reported under an earlier rule;
    # conditional rules check only the rows their condition selects.
    assert counts["has_customer_identifier"] == (False, 6, 2)
    assert counts["purchase_has_value"] == (False, 3, 1)
    assert counts["messaging_has_waba_id"] == (False, 3, 1)
    assert counts["messaging_has_ctwa_clid"] == (True, 3, 0)
    assert counts["website_has_user_agent"] == (True, 2, 0)
    assert by_rule["purchase_has_value"]["condition"] == "event_name == 'Purchase'"
    assert summary["rows"] == 6
    assert summary["failed_rows"] == 4
    assert summary["passed_rows"] == 2
    assert summary["success"] is False
    # The row with no mapping and no identifier counts once, under the mapping rule.
    assert summary["failed_rows_by_rule"] == {
        "event_name_mapped": 1,
        "purchase_has_value": 1,
        "messaging_has_waba_id": 1,
        "has_customer_identifier": 1,
    }
    assert json.loads(json.dumps(summary)) == summary


def test_rules_hold_when_every_row_a_condition_selects_lacks_the_column():
    # GX calls a range or regex check on an all-null column vacuously true; the not-null rules must
    # still catch it.
    rows = [{**WHATSAPP_PURCHASE, "value": math.nan, "currency": None, "waba_id": None}] * 2

    assert reasons_of(*rows, CRM_SUBSCRIBE) == [NO_VALUE, NO_VALUE, None]


def test_a_rule_gx_cannot_evaluate_raises_instead_of_passing_rows():
    frame = events(*VALID).astype({"event_time": "str"})

    with pytest.raises(RuntimeError, match="event_time_within_7_days"):
        validate_events(frame, NOW)


def test_missing_column_is_an_error_not_a_pass():
    with pytest.raises(ValueError, match="waba_id"):
        validate_events(events(WEBSITE_LEAD).drop(columns="waba_id"), NOW)


def test_gx_is_built_once_keeps_no_results_and_prints_no_progress_bars(capfd):
    validate_events(events(*VALID), NOW)
    built = validation._get_gx()
    capfd.readouterr()

    validate_events(events(*VALID, {**CRM_SUBSCRIBE, "n_identifiers": 0}), NOW)

    assert validation._get_gx() is built
    assert built.context.validation_results_store.list_keys() == []
    assert capfd.readouterr() == ("", "")


def test_a_large_chunk_reports_exactly_the_broken_rows():
    n = 20_000
    frame = events(*[WHATSAPP_PURCHASE] * n)
    broken = np.arange(7, n, 97)
    frame.loc[broken, "waba_id"] = None

    reasons = validate_events(frame, NOW).reasons

    assert reasons.notna().to_numpy().nonzero()[0].tolist() == broken.tolist()
    assert set(reasons.dropna()) == {NO_WABA}


def test_a_row_without_the_conditions_column_value_skips_the_conditional_rules():
    row = {**WEBSITE_LEAD, "action_source": None, "event_source_url": None, "client_user_agent": None}

    outcome = validate_events(events(row, WEBSITE_LEAD), NOW)

    assert outcome.reasons.tolist() == [None, None]
    by_rule = {e["rule"]: e for e in outcome.summary["expectations"]}
    assert by_rule["website_has_source_url"]["checked_rows"] == 1


def test_a_large_mixed_chunk_maps_each_conditional_failure_back_to_its_row():
    # Each condition's rows are checked apart from the others: the failing rows GX lists must land
    # on the caller's rows, not on their position among the rows a condition selects.
    n = 3_000
    frame = events(*[VALID[i % 3] for i in range(n)])
    frame.index = pd.RangeIndex(n) * 10 + 5
    expected = [None] * n
    breaks = [
        (0, "event_source_url", "shop.example", BAD_URL),
        (1, "currency", "idr", bad_currency("idr")),
        (1, "waba_id", None, NO_WABA),
        (2, "n_identifiers", 0, NO_IDENTIFIER),
    ]
    for k, (kind, column, value, reason) in enumerate(breaks):
        rows = np.arange(kind + 3 * (7 + 11 * k), n, 3 * 97)
        frame.iloc[rows, frame.columns.get_loc(column)] = value
        for row in rows:
            expected[row] = expected[row] or reason

    outcome = validate_events(frame, NOW)

    assert outcome.reasons.index.equals(frame.index)
    assert outcome.reasons.tolist() == expected
    assert outcome.summary["failed_rows"] == sum(r is not None for r in expected)


def test_set_up_builds_gx_once_per_process_and_reports_its_time_once(monkeypatch):
    built, stages = [], []

    class Observer:
        def on_stage(self, name, seconds, rows):
            stages.append(name)

    monkeypatch.setattr(validation, "_gx", None)
    monkeypatch.setattr(validation, "_build_gx", lambda: built.append(1) or "gx objects")

    validation.set_up(Observer())
    validation.set_up(Observer())

    assert built == [1] and stages == ["gx_setup"]
    assert validation._get_gx() == "gx objects"


def test_a_failed_set_up_raises_in_the_caller_and_the_next_validation_tries_again(monkeypatch):
    def broken():
        raise ImportError("great_expectations is missing")

    monkeypatch.setattr(validation, "_gx", None)
    monkeypatch.setattr(validation, "_build_gx", broken)

    with pytest.raises(ImportError, match="great_expectations is missing"):
        validation.set_up()
    with pytest.raises(ImportError, match="great_expectations is missing"):
        validate_events(events(*VALID), NOW)


def test_an_unusable_input_value_is_the_reason_before_any_rule():
    problem = "leads.deal_value is not a usable number ('NaN') (a Purchase needs its deal value)"
    rows = [{**WHATSAPP_PURCHASE, "value": math.nan, "input_problem": problem},  # also breaks a rule
            {**WEBSITE_LEAD, "input_problem": None}]  # fmt: skip
    outcome = validate_events(events(*rows), NOW)
    assert outcome.reasons.tolist() == [problem, None]
    assert outcome.summary["failed_rows_by_rule"] == {"input_problem": 1}


def test_no_waba_names_the_unusable_id_it_met_else_keeps_the_plain_reason():
    detail = "WhatsApp Business Account id 'WABA-ABC' of pixel 1234 is not numeric (5 to 20 digits) and x"
    rows = [{**WHATSAPP_PURCHASE, "waba_id": None, "waba_problem": detail},
            {**WHATSAPP_PURCHASE, "waba_id": None, "waba_problem": None}]  # fmt: skip
    assert reasons_of(*rows) == [
        f"no WhatsApp Business Account ID: {detail} (Meta would reject it: Missing Page ID Or WhatsApp "
        "Business account ID), and nothing else to match it on as a CRM event",
        NO_WABA,
    ]
