"""What the operator commands decide before anything runs: their targets and a backfill's request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devtools.demo_targets import for_demo
from konektor_capi_cli import backfill_request, targets

pytestmark = pytest.mark.unit

DB, META = "postgresql://u@db.example/konektor", '{"conn_type": "http", "host": "https://graph.facebook.com"}'
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_the_demo_never_uses_the_users_connections_and_says_so() -> None:
    where = for_demo({targets.DB_VAR: DB, targets.META_VAR: META})
    assert (where.db_uri, where.meta_conn) == (None, None)
    assert any("AIRFLOW_CONN_KONEKTOR_DB is set; the demo ignores it" in n for n in where.notes)
    assert any("AIRFLOW_CONN_META_CAPI is set; the demo ignores it" in n for n in where.notes)
    assert all(DB not in n for n in where.notes)  # a URI may hold a password


def test_a_run_uses_both_connections_or_the_dev_pair() -> None:
    assert targets.for_run({targets.DB_VAR: DB, targets.META_VAR: META}, "sync") == targets.Targets(DB, META)
    dev = targets.for_run({}, "sync")
    assert (dev.db_uri, dev.meta_conn) == (None, None)
    assert "nothing reaches Meta" in dev.notes[0]


@pytest.mark.parametrize("env", [{targets.DB_VAR: DB}, {targets.DB_VAR: DB, targets.OPT_IN_VAR: "0"},
                                 {targets.DB_VAR: DB, targets.META_VAR: ""}])  # fmt: skip
def test_a_configured_database_is_never_paired_with_the_emulator_unasked(env) -> None:
    with pytest.raises(targets.Refused, match=f"{targets.DB_VAR} is set but {targets.META_VAR} is not"):
        targets.for_run(env, "sync")


def test_the_emulator_with_a_configured_database_on_request_is_said_loudly() -> None:
    where = targets.for_run({targets.DB_VAR: DB, targets.OPT_IN_VAR: "Yes"}, "sync")
    assert (where.db_uri, where.meta_conn) == (DB, None)
    assert "never reach Meta" in where.notes[0]
    with pytest.raises(targets.Refused, match="KONEKTOR_DEV_EMULATOR='please'"):
        targets.for_run({targets.DB_VAR: DB, targets.OPT_IN_VAR: "please"}, "sync")


def test_the_demo_database_is_never_sent_to_a_configured_graph_api() -> None:
    with pytest.raises(targets.Refused, match=f"{targets.META_VAR} is set but {targets.DB_VAR} is not"):
        targets.for_run({targets.META_VAR: META}, "sync")


@pytest.mark.parametrize("word, expected", [("1", True), ("TRUE", True), ("True", True), (" yes ", True),
                                            ("0", False), ("false", False), ("No", False), ("", False),
                                            (None, False)])  # fmt: skip
def test_dry_run_words(word, expected) -> None:
    assert backfill_request.from_values("2026-11-28T00:00:00Z", None, None, word, now=NOW).dry_run is expected


@pytest.mark.parametrize(
    "start, end, dry_run, message",
    [
        (None, None, None, "START is missing"),
        ("yesterday", None, None, "START='yesterday' is not an ISO-8601 date-time"),
        ("2026-11-28T00:00:00", None, None, "is not an ISO-8601 date-time with a timezone"),
        ("2026-11-28T00:00:00Z", "2026-13-01T00:00:00Z", None, "END='2026-13-01T00:00:00Z'"),
        ("2026-11-29T00:00:00Z", "2026-11-28T00:00:00Z", None, "is not before END"),
        ("2026-12-01T00:00:00Z", None, None, "is not before END (now)"),
        ("2026-11-28T00:00:00Z", None, "True please", "DRY_RUN='True please': use 1/true/yes or 0/false/no"),
    ],
)
def test_a_bad_request_is_an_error_with_its_reason(start, end, dry_run, message) -> None:
    with pytest.raises(backfill_request.InvalidRequest) as err:
        backfill_request.from_values(start, end, None, dry_run, now=NOW)
    assert message in str(err.value)


def test_the_request_becomes_the_runs_params() -> None:
    env = {"BACKFILL_START": "2026-11-28T00:00:00Z", "BACKFILL_END": "", "BACKFILL_PIXELS": " 111, 222,,111 ",
           "BACKFILL_DRY_RUN": "yes"}  # fmt: skip
    req = backfill_request.from_env(env, now=NOW)
    assert req.conf() == {"start": "2026-11-28T00:00:00+00:00", "end": None, "pixel_ids": ["111", "222"],
                          "dry_run": True}  # fmt: skip
