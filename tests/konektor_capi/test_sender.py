"""Batches per (pixel, WABA): never more than the limit, short remainders carried to the next page."""

from __future__ import annotations

import pandas as pd
import pytest

from konektor_capi.sender import Batcher

pytestmark = pytest.mark.unit


def page(start: int, n: int) -> pd.DataFrame:
    return pd.DataFrame({"status_change_id": range(start, start + n)})


def ids(frames) -> list[int]:
    return [i for f in frames for i in f["status_change_id"].tolist()]


def test_full_batches_go_at_once_and_the_remainder_waits_for_the_next_page():
    batcher = Batcher(max_size=4)
    first = list(batcher.add(("p", ""), page(0, 10)))
    assert [len(b) for b in first] == [4, 4]
    second = list(batcher.add(("p", ""), page(10, 3)))  # 2 held + 3 new
    assert [len(b) for b in second] == [4]
    rest = list(batcher.flush())
    assert [(k, len(b)) for k, b in rest] == [(("p", ""), 1)]
    assert ids(first + second + [b for _, b in rest]) == list(range(13))  # nothing lost, nothing twice
    assert list(batcher.flush()) == []


def test_keys_never_mix():
    batcher = Batcher(max_size=3)
    out = list(batcher.add(("p", "waba-1"), page(0, 2))) + list(batcher.add(("p", ""), page(100, 2)))
    assert out == []
    held = dict(batcher.flush())
    assert ids([held[("p", "waba-1")]]) == [0, 1]
    assert ids([held[("p", "")]]) == [100, 101]
