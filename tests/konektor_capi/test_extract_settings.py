"""Which planner settings the extract runs with, by the size of its window."""

import pytest

from konektor_capi.extract import SMALL_WINDOW_PAIRS, planner_settings

pytestmark = pytest.mark.unit

HASH_ONLY = ["SET LOCAL enable_nestloop = off"]


def test_small_windows_are_left_to_the_planner():
    assert planner_settings(1) == []
    assert planner_settings(SMALL_WINDOW_PAIRS) == []


def test_large_or_unknown_windows_hash_join():
    assert planner_settings(SMALL_WINDOW_PAIRS + 1) == HASH_ONLY
    assert planner_settings(0) == HASH_ONLY
