"""From changes to (change, pixel) events."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from konektor_capi.fanout import events_per_pixel, group_pixels, pixel_pairs

pytestmark = pytest.mark.unit


def test_pixel_pairs_from_keys():
    positions, keys = pixel_pairs(pd.Series(["3 5", "5", "3 5 9"]))
    assert positions.tolist() == [0, 0, 1, 2, 2, 2]
    assert keys.tolist() == [3, 5, 5, 3, 5, 9]
    positions, keys = pixel_pairs(pd.Series([], dtype=object))
    assert positions.tolist() == keys.tolist() == []


@given(st.lists(st.lists(st.integers(1, 10**12), min_size=1, max_size=4), max_size=30))
def test_pixel_pairs_match_splitting_row_by_row(lists):
    positions, keys = pixel_pairs(pd.Series([" ".join(map(str, keys)) for keys in lists], dtype=object))
    expected = [(i, k) for i, keys in enumerate(lists) for k in keys]
    assert list(zip(positions.tolist(), keys.tolist(), strict=True)) == expected


def pixels() -> pd.DataFrame:
    return group_pixels(
        pd.DataFrame(
            {
                "pixel_key": [3, 5],
                "pixel_id": ["111", "222"],
                "pixel_waba_id": ["900 000 000 01", None],
            }
        )
    )


def test_events_per_pixel_sets_the_pixel_and_the_waba_fallback_only_for_messaging():
    events = pd.DataFrame(
        {
            "status_change_id": [1, 2, 3],
            "action_source": ["business_messaging", "business_messaging", "website"],
            "waba_id": ["800000000000001", None, None],  # the session's WABA, per change
        },
        index=[10, 11, 12],
    )
    pairs = events_per_pixel(events, pd.Series(["3 5", "3 5", "3"], index=events.index), pixels())
    got = list(zip(pairs["status_change_id"], pairs["pixel_id"], pairs["waba_id"], strict=True))
    assert got == [
        (1, "111", "800000000000001"),  # the session's WABA wins over the pixel's
        (1, "222", "800000000000001"),
        (2, "111", "90000000001"),  # no session: the pixel's WABA, spaces removed
        (2, "222", None),  # no session, no pixel WABA: validation skips it
        (3, "111", None),  # not a messaging event: no WABA
    ]


def test_an_unknown_pixel_key_is_an_error_not_a_silent_drop():
    events = pd.DataFrame({"status_change_id": [1], "action_source": ["website"], "waba_id": [None]})
    with pytest.raises(LookupError, match="42"):
        events_per_pixel(events, pd.Series(["42"]), pixels())


def test_a_pair_left_without_a_waba_names_the_unusable_ids_it_met():
    from konektor_capi.fanout import WABA_PROBLEM

    pixels_ = group_pixels(pd.DataFrame({"pixel_key": [3, 5], "pixel_id": ["111", "222"],
                                         "pixel_waba_id": ["WABA-ABC", "  "]}))  # fmt: skip
    events = pd.DataFrame(
        {
            "action_source": ["business_messaging", "business_messaging", "website"],
            "waba_id": [None, None, None],
            "session_waba_problem": ["WhatsApp Business Account id 'x' of WhatsApp session 9 is not numeric "
                                     "(5 to 20 digits)", None, None],
        }
    )  # fmt: skip
    pairs = events_per_pixel(events, pd.Series(["3 5", "3 5", "3"]), pixels_)
    assert pairs[WABA_PROBLEM].tolist() == [
        "WhatsApp Business Account id 'x' of WhatsApp session 9 is not numeric (5 to 20 digits) and "
        "WhatsApp Business Account id 'WABA-ABC' of pixel 111 is not numeric (5 to 20 digits)",
        "WhatsApp Business Account id 'x' of WhatsApp session 9 is not numeric (5 to 20 digits) and "
        "none on the pixel",
        "no session WABA for the agent's number and "
        "WhatsApp Business Account id 'WABA-ABC' of pixel 111 is not numeric (5 to 20 digits)",
        None,  # both simply empty
        None,  # not business messaging
    ]
