"""From one row per status change to one per (change, pixel): the pixels a change still owes an event.

Everything that depends only on the change (normalising, hashing, naming the event) is done once per
change before this step; what depends on the pixel (its id, its fallback WABA) is set here.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import pandas as pd

from konektor_capi.waba import clean_waba_ids, fallback_waba


def pixel_pairs(pixel_keys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(row position, meta_pixels id) per pair, from the extract's space-separated `pixel_keys`."""
    # Most changes of a workspace owe the same pixels: split each distinct list once.
    codes, distinct = pd.factorize(pixel_keys.astype("object"), sort=False)
    lists = [[int(k) for k in str(text).split()] for text in distinct]
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    counts = lengths[codes]
    positions = np.repeat(np.arange(len(codes)), counts)
    # Row by row, the keys of its list: offsets into the flattened distinct lists.
    flat = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(lengths.sum()))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[codes]
    within = np.arange(len(positions)) - np.repeat(np.cumsum(counts) - counts, counts)
    keys = flat[np.repeat(starts, counts) + within]
    return positions, keys


def group_pixels(pixels: pd.DataFrame) -> pd.DataFrame:
    """The group's pixel rows indexed by meta_pixels id, with their WABA ids cleaned once."""
    frame = pixels.set_index("pixel_key", drop=False)
    return frame.assign(pixel_waba_id=clean_waba_ids(frame["pixel_waba_id"]))


def events_per_pixel(events: pd.DataFrame, pixel_keys: pd.Series, pixels: pd.DataFrame) -> pd.DataFrame:
    """One row per (change, pixel) from per-change events (whose `waba_id` is the session's WABA).

    `pixels` is `group_pixels(...)`. Business-messaging events without a session WABA take the pixel's.
    """
    positions, keys = pixel_pairs(pixel_keys)
    pairs = events.take(positions).reset_index(drop=True)
    found = pixels.reindex(keys)
    if found["pixel_id"].isna().any():
        unknown = sorted(set(keys[found["pixel_id"].isna().to_numpy()].tolist()))
        raise LookupError(f"extract listed meta_pixels ids {unknown[:5]} that the group's pixels lack")
    pairs["pixel_key"] = keys
    pairs["pixel_id"] = found["pixel_id"].to_numpy()
    messaging = (pairs["action_source"] == "business_messaging").to_numpy()
    waba = fallback_waba(pairs["waba_id"], found["pixel_waba_id"])
    pairs["waba_id"] = waba.where(messaging, None)
    return pairs
