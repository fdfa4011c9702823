"""The extract's parse of PostgreSQL's CSV: values pandas cannot use become missing, their text kept aside."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from konektor_capi import extract

pytestmark = pytest.mark.unit

HEADER = ",".join(["status_change_id", "lead_id", "workspace_id", *extract.TEXT_COLUMNS, "deal_value",
                   "date_of_birth", "changed_at", "lead_created_at"])  # fmt: skip


def parse(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """(deal_value, date_of_birth, lead_created_at) as PostgreSQL's COPY CSV writes them."""
    blank = "," * (len(extract.TEXT_COLUMNS) - 1)
    lines = [HEADER] + [f"{i},{i},1,{blank},{v},{d},2026-11-30 10:00:00+00,{c}" for i, (v, d, c) in
                        enumerate(rows, 1)]  # fmt: skip
    frame = pd.read_csv(io.StringIO("\n".join(lines) + "\n"), dtype=extract._DTYPES, keep_default_na=False,
                        na_values=[""])  # fmt: skip
    return extract._prepare(frame)


OK_TIME = "2026-11-30 09:00:00+00"


def test_numeric_nan_and_infinities_are_unusable_deal_values_not_a_crash():
    frame = parse(("NaN", "", OK_TIME), ("Infinity", "", OK_TIME), ("-Infinity", "", OK_TIME),
                  ("12.50", "", OK_TIME), ("", "", OK_TIME))  # fmt: skip
    assert frame["deal_value"].tolist()[3] == 12.5
    assert frame["deal_value"].isna().tolist() == [True, True, True, False, True]
    assert frame["unusable_deal_value"].tolist() == ["NaN", "Infinity", "-Infinity", None, None]


def test_timestamps_pandas_cannot_hold_are_missing_and_kept_as_text():
    stamps = ["infinity", "-infinity", "0044-03-15 10:00:00+00 BC", "10000-01-01 00:00:00+00",
              "2999-01-01 00:00:00+00", OK_TIME]  # fmt: skip
    frame = parse(*(("", "", s) for s in stamps))
    assert frame["lead_created_at"].isna().tolist() == [True] * 5 + [False]
    assert frame["unusable_lead_created_at"].tolist() == [*stamps[:5], None]  # 2999: after the run's clock
    assert frame["unusable_changed_at"].isna().all()


def test_an_unusable_date_of_birth_is_simply_missing():
    frame = parse(*(("", d, OK_TIME) for d in ("0044-03-15 BC", "infinity", "10000-01-01", "1990-05-17", "")))
    shown = [str(d) if d is not None else None for d in frame["date_of_birth"]]
    assert shown == [None, None, None, "1990-05-17", None]
