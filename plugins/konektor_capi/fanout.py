"""From one row per status change to one per (change, pixel): the pixels a change still owes an event.

Everything that depends only on the change (normalising, hashing, naming the event) is done once per
change before this step; what depends on the pixel (its id, its fallback WABA) is set here.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import pandas as pd

from konektor_capi.events import CRM_EVENT_NAME, IDENTITY_KEYS, MATCH_KEYS
from konektor_capi.identity import BIT, is_weak, key_names
from konektor_capi.outcomes import NOTE
from konektor_capi.payloads import EVENT_JSON, event_json
from konektor_capi.waba import clean_waba_ids, fallback_waba, waba_problems

# Per (change, pixel) without a WABA where some WABA id was there but unusable: what and whose.
WABA_PROBLEM = "waba_problem"
NO_SESSION_WABA = "no session WABA for the agent's number"
NO_PIXEL_WABA = "none on the pixel"


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
    problems = waba_problems(frame["pixel_waba_id"], "pixel " + frame["pixel_id"].astype(str))
    return frame.assign(pixel_waba_id=clean_waba_ids(frame["pixel_waba_id"]), pixel_waba_problem=problems)


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
    no_waba = messaging & waba.isna().to_numpy()
    problems = _waba_problems(pairs, found, no_waba)
    pairs[WABA_PROBLEM] = pd.Series(problems, index=pairs.index, dtype=object)  # None, not NaN, when missing
    if IDENTITY_KEYS in pairs:
        as_crm = no_waba & _crm_matchable(pairs[IDENTITY_KEYS].to_numpy(dtype=np.int64))
        if as_crm.any():
            pairs = _as_crm_events(pairs, as_crm)
    return pairs


def _crm_matchable(bits: np.ndarray) -> np.ndarray:
    """Whether a Click-to-WhatsApp lead has customer information to match on without its click. Konektor's
    lead id does not count: no browser pixel ever saw a WhatsApp click's lead."""
    return ~is_weak(bits & ~BIT["external_id"])


def _as_crm_events(pairs: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """A Click-to-WhatsApp conversion without a WABA is not lost: it goes as a CRM event (hashed
    identifiers, no ctwa_clid, which Meta only takes with a WABA), with a note on its sync_logs row."""
    at = np.flatnonzero(rows)  # `pairs` is the fan-out's own frame: changed in place
    why = pd.Series(pairs[WABA_PROBLEM].to_numpy(dtype=object)[at], dtype="string").fillna(
        f"{NO_SESSION_WABA} and {NO_PIXEL_WABA}")  # fmt: skip
    notes = ("Click-to-WhatsApp lead without a WhatsApp Business Account ID (" + why
             + "): sent as a CRM event, without its ctwa_clid")  # fmt: skip
    columns = {
        "action_source": "system_generated",
        "event_name": pairs[CRM_EVENT_NAME].to_numpy(dtype=object)[at],
        "ctwa_clid": None,
        WABA_PROBLEM: None,
        "n_identifiers": np.bitwise_count(pairs[IDENTITY_KEYS].to_numpy(dtype=np.int64)[at]),
        NOTE: notes.to_numpy(dtype=object),
        MATCH_KEYS: key_names(pairs[IDENTITY_KEYS].to_numpy(dtype=np.int64)[at]),
    }
    if NOTE not in pairs:
        pairs[NOTE] = pd.Series(np.full(len(pairs), None, dtype=object), index=pairs.index, dtype=object)
    for column, values in columns.items():
        pairs.iloc[at, pairs.columns.get_loc(column)] = values
    converted = pairs.iloc[at]
    # What was encoded per change for a business-messaging event: encoded again for the CRM event.
    if EVENT_JSON in pairs:
        pairs.iloc[at, pairs.columns.get_loc(EVENT_JSON)] = pd.Series(
            event_json(converted), dtype=object
        ).to_numpy()
    return pairs


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=object) if name in frame else np.full(len(frame), None, dtype=object)


def _waba_problems(pairs: pd.DataFrame, found: pd.DataFrame, missing: np.ndarray) -> np.ndarray:
    """For pairs that end with no WABA, both places it was looked for, where one of them held an
    unusable id (None when both were simply empty: the plain reason says so)."""
    out = np.full(len(pairs), None, dtype=object)
    if not missing.any():
        return out
    session = _column(pairs, "session_waba_problem")[missing]
    pixel = _column(found, "pixel_waba_problem")[missing]
    named = ~(pd.isna(session) & pd.isna(pixel))
    text = (pd.Series(session, dtype="string").fillna(NO_SESSION_WABA) + " and "
            + pd.Series(pixel, dtype="string").fillna(NO_PIXEL_WABA))  # fmt: skip
    rows = np.flatnonzero(missing)[named]
    out[rows] = text[named].to_numpy(dtype=object)
    return out
