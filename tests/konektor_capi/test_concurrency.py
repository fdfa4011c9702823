"""The runner's one concurrency design: what it decides per group."""

from __future__ import annotations

import gc

import pytest

from konektor_capi.concurrency import DEFAULT_CONCURRENCY, VARIANTS, Concurrency
from konektor_capi.tuning import PROCESS_MIN_PAIRS

pytestmark = pytest.mark.unit


def test_auto_delivers_from_a_child_only_for_groups_that_repay_its_start_up():
    assert DEFAULT_CONCURRENCY.delivers_in_child(PROCESS_MIN_PAIRS)
    assert not DEFAULT_CONCURRENCY.delivers_in_child(PROCESS_MIN_PAIRS - 1)
    assert Concurrency("process").delivers_in_child(1)
    assert not Concurrency("thread").delivers_in_child(10 * PROCESS_MIN_PAIRS)


def test_an_unknown_delivery_mode_is_refused():
    with pytest.raises(ValueError, match="delivery must be one of"):
        Concurrency("fork")


def test_each_variant_the_benchmark_measures_differs_from_the_default_in_one_choice():
    for name, variant in VARIANTS.items():
        changed = [k for k in vars(variant) if getattr(variant, k) != getattr(DEFAULT_CONCURRENCY, k)]
        assert len(changed) == 1, name


def test_fewer_collections_raises_the_thresholds_for_the_group_and_restores_them():
    before = gc.get_threshold()
    with DEFAULT_CONCURRENCY.collections():
        assert gc.get_threshold()[0] > before[0]
    assert gc.get_threshold() == before
    with Concurrency(fewer_collections=False).collections():
        assert gc.get_threshold() == before
