"""The SQL files: includes expand, and the statements that decide what a run owes share one definition."""

from __future__ import annotations

import pytest

from konektor_capi import sql

pytestmark = pytest.mark.unit


@pytest.fixture
def sql_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KONEKTOR_CAPI_SQL_DIR", str(tmp_path))
    sql.load.cache_clear()
    yield tmp_path
    sql.load.cache_clear()


def test_an_include_line_is_replaced_by_the_named_file_recursively(sql_dir):
    (sql_dir / "inner.sql").write_text("inner_cte AS (SELECT 1)\n")
    (sql_dir / "middle.sql").write_text("  -- @include inner\n, middle_cte AS (SELECT 2)\n")
    (sql_dir / "outer.sql").write_text("WITH\n-- @include middle\nSELECT 3 -- @include not_at_line_start\n")
    assert sql.load("outer") == (
        "WITH\ninner_cte AS (SELECT 1)\n, middle_cte AS (SELECT 2)\nSELECT 3 -- @include not_at_line_start\n"
    )


def test_an_include_cycle_or_a_missing_file_is_an_error(sql_dir):
    (sql_dir / "a.sql").write_text("-- @include b\n")
    (sql_dir / "b.sql").write_text("-- @include a\n")
    with pytest.raises(ValueError, match="a -> b -> a"):
        sql.load("a")
    (sql_dir / "c.sql").write_text("-- @include nowhere\n")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        sql.load("c")


def test_extract_plan_and_completeness_share_one_definition_of_what_a_run_owes():
    sql.load.cache_clear()
    owed = sql.load("owed_pairs").rstrip()
    for name in ("extract_changes", "plan_groups", "run_completeness"):
        text = sql.load(name)
        assert owed in text and sql._INCLUDE.search(text) is None
        assert "lead_status_changes c\n" not in text.replace(owed, "")  # no second copy of the rule
