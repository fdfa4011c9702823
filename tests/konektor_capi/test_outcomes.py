"""The COPY lines that record outcomes: one line per event, escaped, NULLs where values are missing."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konektor_capi.outcomes import (
    ACCEPTED,
    COLUMNS,
    FAILED,
    SKIPPED,
    Outcomes,
    copy_keys,
)

pytestmark = pytest.mark.unit


def events(n: int = 3, **overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "status_change_id": range(1, n + 1),
            "pixel_id": ["1111"] * n,
            "lead_id": range(100, 100 + n),
            "workspace_id": [7] * n,
            "waba_id": [None] * n,
            "event_name": ["Lead"] * n,
            "event_id": [f"konektor-lsc-{i}" for i in range(1, n + 1)],
            "action_source": ["system_generated"] * n,
            "event_time": [1_764_000_000 + i for i in range(n)],
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def parse(lines: str) -> list[list[str]]:
    """COPY text format back into fields (the inverse of the escaping, as PostgreSQL reads it)."""
    out = []
    for line in lines.split("\n")[:-1]:  # PostgreSQL ends a row at \n (or \r) only
        fields = []
        for raw in line.split("\t"):
            if raw == "\\N":
                fields.append(None)
                continue
            text, i = [], 0
            while i < len(raw):
                if raw[i] == "\\":
                    text.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[raw[i + 1]])
                    i += 2
                else:
                    text.append(raw[i])
                    i += 1
            fields.append("".join(text))
        out.append(fields)
    return out


def test_one_line_per_event_with_the_shared_result_and_every_column():
    rows = parse(Outcomes(events(), ACCEPTED, None, "run-1", attempts=2, fbtrace_id="AbC").copy_lines())
    assert len(rows) == 3
    assert all(len(r) == len(COLUMNS) for r in rows)
    first = dict(zip(COLUMNS, rows[0], strict=True))
    assert first["status_change_id"] == "1" and first["lead_id"] == "100" and first["workspace_id"] == "7"
    assert first["event_time"] == "2025-11-24T16:00:00Z"  # epoch 1_764_000_000, as timestamptz text
    assert first["waba_id"] is None and first["reason"] is None and first["error_code"] is None
    shared = (first["status"], first["attempts"], first["fbtrace_id"], first["run_id"])
    assert shared == ("accepted", "2", "AbC", "run-1")


def test_reasons_per_row_for_skips():
    reasons = pd.Series(["no value", "no match\tat all", "x"])
    rows = parse(Outcomes(events(), SKIPPED, reasons, "r").copy_lines())
    assert [r[COLUMNS.index("reason")] for r in rows] == ["no value", "no match\tat all", "x"]
    assert {r[COLUMNS.index("status")] for r in rows} == {"skipped"}


weird = st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(weird, weird, weird), min_size=1, max_size=8), weird)
def test_any_text_round_trips_through_the_copy_format(values, reason):
    event_ids = [v[0] if v[0] is not None else "id" for v in values]
    n = len(values)
    frame = events(n, event_id=event_ids, waba_id=[v[1] for v in values], event_name=[v[2] for v in values])
    rows = parse(Outcomes(frame, FAILED, reason, "r").copy_lines())
    assert len(rows) == n
    assert [r[COLUMNS.index("event_id")] for r in rows] == stored(event_ids)
    assert [r[COLUMNS.index("waba_id")] for r in rows] == stored([v[1] for v in values])
    assert [r[COLUMNS.index("event_name")] for r in rows] == stored([v[2] for v in values])
    assert {r[COLUMNS.index("reason")] for r in rows} == set(stored([reason]))


def stored(values: list) -> list:
    """What text PostgreSQL keeps of each value: it cannot hold NUL, which becomes U+FFFD."""
    return [v if v is None else v.replace("\x00", "\ufffd") for v in values]


def test_a_nul_in_metas_text_is_replaced_not_sent_to_postgresql():
    # Meta's JSON may say "\u0000": a partial_failure message, an error message, a trace id.
    frame = events(2, event_id=["ev\x00a", "ev-b"])
    for reason in ("took 1 of 2\x00events", pd.Series(["a\x00", "\x00\tb"])):
        lines = Outcomes(frame, FAILED, reason, "r", fbtrace_id="A\x00b").copy_lines()
        assert "\x00" not in lines
        rows = parse(lines)
        assert [r[COLUMNS.index("event_id")] for r in rows] == ["ev\ufffda", "ev-b"]
        assert {r[COLUMNS.index("fbtrace_id")] for r in rows} == {"A\ufffdb"}
    assert [r[COLUMNS.index("reason")] for r in rows] == ["a\ufffd", "\ufffd\tb"]


def test_no_events_no_lines():
    assert Outcomes(events(0), ACCEPTED, None, "r").copy_lines() == ""
    assert copy_keys(events(0)) == []


@pytest.mark.parametrize("value", [float("nan"), None])
def test_missing_values_are_null(value):
    frame = events(1, event_name=[value])
    assert parse(Outcomes(frame, SKIPPED, "why", "r").copy_lines())[0][COLUMNS.index("event_name")] is None


def test_stored_text_is_what_postgresql_can_hold():
    from konektor_capi.outcomes import stored_text

    assert stored_text("plain") == "plain"
    assert stored_text("a\x00b") == "a\ufffdb"
    assert stored_text("lone \ud800 surrogate") == "lone ? surrogate"
