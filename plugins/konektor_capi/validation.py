"""Checks the events about to be sent to Meta and says, per row, why one must not be sent.

Great Expectations 1.x runs the rules (an ephemeral context, one suite per row condition, each run
over the rows its condition selects); pandas turns GX's failing rows into one reason per row.
Meta rejects a whole batch when one event in it is invalid, so a row with a reason is held back.

The GX objects are built once per process, on first use, and reused: only the DataFrame and the
run's clock change between calls. GX is imported lazily so importing this module (from a DAG file)
stays cheap.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from konektor_capi.currencies import iso_4217
from konektor_capi.events import IDENTITY_KEYS, INPUT_PROBLEM
from konektor_capi.identity import weak_reason
from konektor_capi.stages import UNOBSERVED, StageObserver

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.data_context import EphemeralDataContext

SEVEN_DAYS = 7 * 86400
# Meta's clock tolerance is undocumented; our emulator allows one minute of skew.
FUTURE_SKEW = 60

# Columns the rules read. to_status only words a reason, so GX never sees it.
EVENT_COLUMNS = (
    "to_status",
    "event_name",
    "event_time",
    "action_source",
    "event_source_url",
    "client_user_agent",
    "value",
    "currency",
    "ctwa_clid",
    "waba_id",
    "n_identifiers",
)
_RESULT_FORMAT = {
    # COMPLETE is the only format that lists every failing row (the row lists of the others are
    # capped). With no unexpected_index_column_names GX lists the batch's index labels in one go;
    # naming a column made it look each failing row up one by one, per rule.
    "result_format": "COMPLETE",
    # Only the failing rows' index labels are needed: no values, no query string listing them.
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 0,
}

Reason = Callable[[pd.DataFrame, int], "pd.Series | str"]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    expectation: str  # a class name in great_expectations.expectations
    kwargs: dict[str, Any]
    reason: Reason
    # (column, value): the rule applies only to rows where column == value; GX is given only those.
    when: tuple[str, str] | None = None


def _text(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), "unknown").astype(str)


def _no_mapping(rows: pd.DataFrame, now: int) -> pd.Series:
    return "status '" + _text(rows["to_status"]) + "' has no Meta event mapping"


def _too_old(rows: pd.DataFrame, now: int) -> pd.Series:
    when = pd.to_datetime(rows["event_time"], unit="s", utc=True).dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "older than Meta's 7-day window for server events (event time " + when + ")"


def _in_future(rows: pd.DataFrame, now: int) -> pd.Series:
    ahead = (rows["event_time"] - now).astype(str)
    return "event time is in the future (" + ahead + " s after the run's clock)"


def _bad_currency(rows: pd.DataFrame, now: int) -> pd.Series:
    return "deal currency '" + _text(rows["currency"]) + "' is not an ISO 4217 currency code"


_NO_WABA = (
    "no WhatsApp Business Account ID: {} (Meta would reject it: Missing Page ID Or WhatsApp Business "
    "account ID), and nothing else to match it on as a CRM event"
)


def _no_waba(rows: pd.DataFrame, now: int) -> pd.Series | str:
    plain = _NO_WABA.format("no session WABA for the agent's number and none on the pixel")
    if "waba_problem" not in rows:
        return plain
    head, tail = _NO_WABA.split("{}")
    detail = rows["waba_problem"].astype("string")
    return (head + detail + tail).astype("object").where(detail.notna(), plain)


def _weak_identity(rows: pd.DataFrame, now: int) -> pd.Series | str:
    if IDENTITY_KEYS not in rows:
        return "customer information too weak for Meta to match"
    return pd.Series(weak_reason(rows[IDENTITY_KEYS].to_numpy(dtype="int64")), index=rows.index, dtype=object)


def _always(text: str) -> Reason:
    def reason(rows: pd.DataFrame, now: int) -> str:
        return text

    return reason


_PURCHASE = ("event_name", "Purchase")
_MESSAGING = ("action_source", "business_messaging")
_WEBSITE = ("action_source", "website")

# Priority order: a row that breaks several rules is reported with the first one it breaks.
RULES: tuple[Rule, ...] = (
    Rule(
        "event_name_mapped",
        "the lead status maps to a Meta event name",
        "ExpectColumnValuesToNotBeNull",
        {"column": "event_name"},
        _no_mapping,
    ),
    Rule(
        "event_time_within_7_days",
        "event_time is at most 7 days before the run",
        "ExpectColumnValuesToBeBetween",
        {"column": "event_time", "min_value": {"$PARAMETER": "oldest_event_time"}},
        _too_old,
    ),
    Rule(
        "event_time_not_in_future",
        "event_time is at most 60 s after the run",
        "ExpectColumnValuesToBeBetween",
        {"column": "event_time", "max_value": {"$PARAMETER": "latest_event_time"}},
        _in_future,
    ),
    # Range and regex expectations skip nulls, so "present" and "well-formed" are two expectations.
    Rule(
        "purchase_has_value",
        "a Purchase has a deal value",
        "ExpectColumnValuesToNotBeNull",
        {"column": "value"},
        _always("won lead has no deal value (Meta rejects a Purchase without value)"),
        when=_PURCHASE,
    ),
    Rule(
        "purchase_value_positive",
        "a Purchase's deal value is greater than 0",
        "ExpectColumnValuesToBeBetween",
        {"column": "value", "min_value": 0, "strict_min": True},
        _always("won lead's deal value is not greater than 0 (Meta needs a positive Purchase value)"),
        when=_PURCHASE,
    ),
    Rule(
        "purchase_has_currency",
        "a Purchase has a deal currency",
        "ExpectColumnValuesToNotBeNull",
        {"column": "currency"},
        _always("won lead has no deal currency (Meta needs a 3-letter ISO 4217 code with the value)"),
        when=_PURCHASE,
    ),
    Rule(
        "purchase_currency_iso4217",
        "a Purchase's currency is an ISO 4217 currency code",
        "ExpectColumnValuesToBeInSet",
        {"column": "currency", "value_set": sorted(iso_4217())},
        _bad_currency,
        when=_PURCHASE,
    ),
    Rule(
        "messaging_has_waba_id",
        "a business-messaging event has a WhatsApp Business Account ID",
        "ExpectColumnValuesToNotBeNull",
        {"column": "waba_id"},
        _no_waba,
        when=_MESSAGING,
    ),
    Rule(
        "messaging_has_ctwa_clid",
        "a business-messaging event has a Click-to-WhatsApp click id",
        "ExpectColumnValuesToNotBeNull",
        {"column": "ctwa_clid"},
        _always(
            "no Click-to-WhatsApp click id (ctwa_clid): Meta cannot attribute a business-messaging "
            "event without it"
        ),
        when=_MESSAGING,
    ),
    Rule(
        "website_has_source_url",
        "a website event has an event_source_url",
        "ExpectColumnValuesToNotBeNull",
        {"column": "event_source_url"},
        _always("website event has no page URL (Meta requires event_source_url for website events)"),
        when=_WEBSITE,
    ),
    Rule(
        "website_source_url_http",
        "a website event's event_source_url starts with http:// or https://",
        "ExpectColumnValuesToMatchRegex",
        {"column": "event_source_url", "regex": r"^https?://"},
        _always("website event's page URL does not start with http:// or https://"),
        when=_WEBSITE,
    ),
    Rule(
        "website_has_user_agent",
        "a website event has the browser's user agent",
        "ExpectColumnValuesToNotBeNull",
        {"column": "client_user_agent"},
        _always(
            "website event has no browser user agent (Meta requires client_user_agent for website events)"
        ),
        when=_WEBSITE,
    ),
    Rule(
        "has_customer_identifier",
        "the event's customer information is not one Meta rejects as weak",
        "ExpectColumnValuesToBeBetween",
        {"column": "n_identifiers", "min_value": 1},
        _weak_identity,
    ),
)


@dataclass(frozen=True)
class ValidationOutcome:
    # Same index as the events; None where the row may be sent, else why it may not.
    reasons: pd.Series
    # JSON-serialisable, for the run's log: per rule its expectation, success and unexpected_count.
    summary: dict[str, Any]


@dataclass(frozen=True)
class _Check:
    """One GX suite: the rules that share a row condition, run on the rows it selects."""

    when: tuple[str, str] | None
    # The columns its rules read: GX copies its whole batch several times per expectation.
    columns: tuple[str, ...]
    suite: ExpectationSuite


@dataclass(frozen=True)
class _Gx:
    context: EphemeralDataContext
    batch: BatchDefinition
    checks: tuple[_Check, ...]


_gx: _Gx | None = None
# Guards the one-time build and each run: the data source's execution engine, and the batch it
# holds, are shared by every run in the process.
_gx_lock = threading.RLock()


def _build_gx() -> _Gx:
    # GX 1.24.1 as installed ships no analytics client (the variable and the config flag are all that
    # is left of it); both are set so an upgrade that brings usage statistics back stays silent.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # Ephemeral: every store lives in memory, nothing is written to disk.
    context = gx.get_context(mode="ephemeral")
    context.enable_analytics(False)
    # Without this every run prints tqdm "Calculating Metrics" bars to stderr.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas("capi_events")
        .add_dataframe_asset("events")
        .add_batch_definition_whole_dataframe("chunk")
    )

    # The row condition selects the batch instead of being a GX row_condition on each expectation.
    # On pandas GX turns a row_condition into a DataFrame.query over the whole frame, parsed and run
    # ~4 times per expectation (33 per call): on 200k rows that was half of the run, and ~60 ms of
    # fixed cost per call. Filtering once per condition, to the columns its rules read, gives GX the
    # same rows: it still checks the real column and counts the rows it checked (element_count).
    groups: dict[tuple[str, str] | None, list[Rule]] = {}
    for rule in RULES:
        groups.setdefault(rule.when, []).append(rule)
    checks = []
    for when, rules in groups.items():
        name = "capi_events" if when is None else f"capi_events_{when[0]}_{when[1]}"
        suite = context.suites.add(gx.ExpectationSuite(name=name))
        for rule in rules:
            expectation = getattr(gxe, rule.expectation)(
                **rule.kwargs, description=rule.description, meta={"rule": rule.name}
            )
            suite.add_expectation(expectation)
        # The suite silently drops an expectation equal to one it holds; every rule must stay distinct.
        if len(suite.expectations) != len(rules):
            raise RuntimeError("two rules build the same GX expectation")
        columns = tuple(dict.fromkeys(rule.kwargs["column"] for rule in rules))
        checks.append(_Check(when=when, columns=columns, suite=suite))
    return _Gx(context=context, batch=batch, checks=tuple(checks))


def _get_gx(on_built: Callable[[float], None] | None = None) -> _Gx:
    global _gx
    if _gx is None:
        with _gx_lock:
            if _gx is None:
                start = time.perf_counter()
                _gx = _build_gx()
                if on_built is not None:
                    on_built(time.perf_counter() - start)
    return _gx


def set_up(observer: StageObserver = UNOBSERVED) -> None:
    """Imports and sets up Great Expectations once per process, before the first validation;
    `observer` hears its time as stage "gx_setup" (the benchmark shows it apart from validating)."""
    _get_gx(lambda seconds: observer.on_stage("gx_setup", seconds, 0))


def _run_gx(gx_objects: _Gx, frames: list[pd.DataFrame], now: int) -> list[Any]:
    # The validator ValidationDefinition.run and Batch.validate both wrap. run() also re-checks its
    # definition against the context's stores and serialises every result, failing-row lists
    # included, into the results store (which a long-lived worker then has to empty), ~10 ms a suite;
    # Batch.validate loads, and fingerprints (hashes), each frame twice.
    from great_expectations.validator.v1_validator import Validator

    parameters = {"oldest_event_time": now - SEVEN_DAYS, "latest_event_time": now + FUTURE_SKEW}
    results = []
    with _gx_lock:
        for check, frame in zip(gx_objects.checks, frames, strict=True):
            validator = Validator(
                batch_definition=gx_objects.batch,
                batch_parameters={"dataframe": frame},
                result_format=_RESULT_FORMAT,
            )
            results.extend(validator.validate_expectation_suite(check.suite, parameters).results)
    return results


def _failing_rows(rule: Rule, result: Any) -> np.ndarray:
    details = result.result
    if "unexpected_count" not in details:
        # GX catches an error inside an expectation and reports it as a failed result with no
        # counts; passing every row then would send events nobody checked.
        messages = {str(getattr(info, "exception_message", info)) for info in result.exception_info.values()}
        raise RuntimeError(f"GX could not evaluate rule {rule.name}: {'; '.join(sorted(messages))}")
    rows = np.asarray(details.get("unexpected_index_list") or [], dtype=np.int64)
    if len(rows) != details["unexpected_count"]:
        raise RuntimeError(
            f"GX listed {len(rows)} of {details['unexpected_count']} failing rows for {rule.name}"
        )
    return rows


def _frame(events: pd.DataFrame, check: _Check) -> pd.DataFrame:
    # Indexed by the row's position among the events, unnamed: GX then reports each failing row's
    # index label as is (list(index)), whatever index the caller's frame has (named, repeated).
    columns = list(check.columns)
    if check.when is None:
        return events.loc[:, columns].set_axis(pd.RangeIndex(len(events)), axis=0)
    column, value = check.when
    selected = (events[column] == value).to_numpy(dtype=bool, na_value=False)
    return events.loc[selected, columns].set_axis(selected.nonzero()[0], axis=0)


def validate_events(events: pd.DataFrame, now: int) -> ValidationOutcome:
    """Return, per event, None when Meta should accept it, else the first rule it breaks."""
    missing = [column for column in EVENT_COLUMNS if column not in events.columns]
    if missing:
        raise ValueError(f"events lack columns {missing}")

    gx_objects = _get_gx()
    frames = [_frame(events, check) for check in gx_objects.checks]
    by_rule = {r.expectation_config.meta["rule"]: r for r in _run_gx(gx_objects, frames, now)}
    reasons = np.full(len(events), None, dtype=object)
    has_reason = np.zeros(len(events), dtype=bool)
    expectations: list[dict[str, Any]] = []
    first_reason_counts: dict[str, int] = {}
    if INPUT_PROBLEM in events:  # a value of Konektor's row the event needs is unusable: before any rule
        problems = events[INPUT_PROBLEM].to_numpy(dtype=object)
        has_reason = ~pd.isna(problems)
        reasons[has_reason] = problems[has_reason]
        first_reason_counts[INPUT_PROBLEM] = int(has_reason.sum())
    for rule in RULES:
        rule_result = by_rule[rule.name]
        rows = _failing_rows(rule, rule_result)
        rows = rows[~has_reason[rows]]
        if len(rows):
            text = rule.reason(events.iloc[rows], now)
            reasons[rows] = text if isinstance(text, str) else text.to_numpy(dtype=object)
            has_reason[rows] = True
        first_reason_counts[rule.name] = len(rows)
        expectations.append(
            {
                "rule": rule.name,
                "description": rule.description,
                "expectation": rule_result.expectation_config.type,
                "column": rule.kwargs["column"],
                "condition": None if rule.when is None else f"{rule.when[0]} == {rule.when[1]!r}",
                "success": bool(rule_result.success),
                "checked_rows": int(rule_result.result.get("element_count") or 0),
                "unexpected_count": int(rule_result.result["unexpected_count"]),
            }
        )

    failed = int(has_reason.sum())
    summary = {
        "rows": len(events),
        "failed_rows": failed,
        "passed_rows": len(events) - failed,
        "success": failed == 0,
        "expectations": expectations,
        # Rows reported under each rule (a row breaking several counts once, under the first).
        "failed_rows_by_rule": {name: n for name, n in first_reason_counts.items() if n},
    }
    return ValidationOutcome(reasons=pd.Series(reasons, index=events.index, dtype=object), summary=summary)
