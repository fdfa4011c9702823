"""Preparing one page of a group's changes: from extracted rows to skips to record and batches to send.

Pure: no engine, no clock but the one given, no dry-run branch. The runner (pipeline.py) reads the
pages and hands what comes out to a sink, which sends and records it or, in a dry run, counts it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from konektor_capi.delivery import DELIVERY_COLUMNS, RECORD_COLUMNS, Send, Skip, slim
from konektor_capi.events import build_events
from konektor_capi.fanout import events_per_pixel
from konektor_capi.mapping import EventMapping
from konektor_capi.outcomes import SKIPPED, Outcomes
from konektor_capi.payloads import EVENT_JSON, event_json
from konektor_capi.runs import META_MAX_AGE, SEND_MARGIN
from konektor_capi.sender import Batcher
from konektor_capi.stages import UNOBSERVED, StageObserver, observed
from konektor_capi.user_data import build_user_data
from konektor_capi.validation import RULES, validate_events
from konektor_capi.validation import set_up as set_up_validation
from konektor_capi.waba import session_wabas

# Validation's 7-day rule: its reason also words the events too close to the line to be sent.
_TOO_OLD = next(rule for rule in RULES if rule.name == "event_time_within_7_days")
# What a ready event keeps beyond delivery's columns: how to batch it, and what a dry run counts.
READY_COLUMNS = [*DELIVERY_COLUMNS, "pixel_key"]


@dataclass
class PrepareContext:
    """What every page of one group is prepared with.

    `batcher` is the one thing carried from page to page: each (pixel, WABA)'s remainder shorter than
    a batch waits for the next page (`flush` hands it over at the end).
    """

    run_id: str
    mapping: EventMapping
    pixels: pd.DataFrame  # fanout.group_pixels of the group's pixels
    blocked: dict[int, str]  # pixel key -> why none of its events can be sent
    waba_lookup: pd.DataFrame  # waba.session_waba_lookup of the group's WhatsApp sessions
    now: Callable[[], float]
    batcher: Batcher = field(default_factory=Batcher)
    observer: StageObserver = UNOBSERVED

    def flush(self) -> Iterator[Send]:
        for (key, _), batch in self.batcher.flush():
            yield Send(int(key), batch)


@dataclass
class PreparedPage:
    skips: list[Skip] = field(default_factory=list)
    batches: list[Send] = field(default_factory=list)
    # Every event of the page that passed (READY_COLUMNS), batched or held by the batcher.
    ready: pd.DataFrame | None = None
    validation: dict | None = None  # validate_events' summary, when something was validated


def prepare_page(page: pd.DataFrame, context: PrepareContext) -> PreparedPage:
    """Normalises, builds, fans out per pixel, validates, encodes and batches one extracted page."""
    out = PreparedPage()
    blocked = context.blocked
    observer = context.observer
    user_data = observed(observer, "normalise", len(page), build_user_data, page)
    session = observed(observer, "build", 0, session_wabas, page["workspace_id"], page["agent_phone"],
                       page["default_country"], context.waba_lookup)  # fmt: skip
    events = observed(observer, "build", 0, build_events, page, user_data, session, context.mapping)
    pixel_keys = page["pixel_keys"]
    del page, user_data  # raw PII goes no further than this point
    events = _encoded(events, events["action_source"] != "business_messaging")
    pairs = observed(observer, "build", len, events_per_pixel, events, pixel_keys, context.pixels)
    is_blocked = pairs["pixel_key"].isin(list(blocked)).to_numpy()
    # a Click-to-WhatsApp event carries its pixel's WABA: encoded per pair, if it may be sent
    messaging = (pairs["action_source"] == "business_messaging") & ~is_blocked
    pairs = _encoded(pairs, messaging)
    for key, rows in pairs[is_blocked].groupby("pixel_key", sort=True):
        out.skips.append(Skip(Outcomes(slim(rows, RECORD_COLUMNS), SKIPPED, blocked[key], context.run_id)))
    pairs = pairs[~is_blocked]
    if pairs.empty:
        return out
    clock = int(context.now())
    set_up_validation(observer)
    verdict = observed(observer, "validate", len(pairs), validate_events, pairs, clock)
    out.validation = verdict.summary
    reasons = _with_send_margin(pairs, verdict.reasons, clock)
    bad = reasons.notna().to_numpy()
    pairs = pairs.loc[:, [c for c in READY_COLUMNS if c in pairs]]  # 16 of the page's ~40 columns
    skipped, ready = pairs[bad], pairs[~bad]
    if not skipped.empty:
        out.skips.append(Skip(Outcomes(slim(skipped, RECORD_COLUMNS), SKIPPED, reasons[bad], context.run_id)))
    out.ready = ready
    wabas = ready["waba_id"].where(ready["waba_id"].notna(), "")
    for (key, waba), rows in ready.groupby([ready["pixel_key"], wabas], sort=True):
        for batch in context.batcher.add((key, waba), slim(rows)):
            out.batches.append(Send(int(key), batch))
    return out


def _with_send_margin(pairs: pd.DataFrame, reasons: pd.Series, now: int) -> pd.Series:
    """Validation's reasons, plus Meta's 7-day rule for the events that would pass it by less than
    SEND_MARGIN: they would cross the line before Meta answers (and sink their whole batch)."""
    oldest = now - int((META_MAX_AGE - SEND_MARGIN).total_seconds())
    late = (reasons.isna() & (pairs["event_time"] < oldest)).to_numpy()
    if not late.any():
        return reasons
    reasons = reasons.copy()
    too_old = _TOO_OLD.reason(pairs[late], now)
    reasons.iloc[late.nonzero()[0]] = too_old if isinstance(too_old, str) else too_old.to_numpy(dtype=object)
    return reasons


def _encoded(events: pd.DataFrame, rows: pd.Series) -> pd.DataFrame:
    """`events` with the JSON of `rows` in EVENT_JSON (encoded once, sent to every pixel as is)."""
    encoded = events[EVENT_JSON].to_numpy(copy=True) if EVENT_JSON in events else np.full(len(events), None)
    mask = rows.to_numpy(dtype=bool)
    encoded[mask] = event_json(events[mask]) if mask.any() else []
    return events.assign(**{EVENT_JSON: encoded})
