import gc

import pytest

from konektor_capi.gc_tuning import fewer_collections

pytestmark = pytest.mark.unit


def test_thresholds_and_freeze_hold_only_inside_the_block():
    before = gc.get_threshold()

    with fewer_collections((12_345, 7, 3)):
        assert gc.get_threshold() == (12_345, 7, 3)
        assert gc.get_freeze_count() > 0  # what existed before is left out of collections

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_error_inside_still_restores_the_collector():
    before = gc.get_threshold()

    with pytest.raises(KeyError), fewer_collections((99_999, 9, 9)):
        raise KeyError("boom")

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_inside_are_still_collected():
    class Node:
        pass

    with fewer_collections():
        node = Node()
        node.self = node
        del node
        assert gc.collect() >= 1
