"""Turns extracted status changes into Meta events: name, action source, ids, custom data.

Works on whole DataFrames; the per-event JSON is only built batch by batch at send time
(`payloads.py`), so memory stays flat however large the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from konektor_capi.ad_ids import ad_ids
from konektor_capi.extract import UNUSABLE
from konektor_capi.identity import is_weak, key_bits, key_names
from konektor_capi.mapping import EventMapping
from konektor_capi.waba import SESSION_WABA_PROBLEM

USER_DATA_HASHED = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id")
USER_DATA_PLAIN = ("fbc", "fbp", "client_ip_address", "client_user_agent", "lead_id")
# The events frame keeps Konektor's lead id as `lead_id`; Meta's Lead Ads id (user_data.lead_id) lives in
# its own column.
USER_DATA_COLUMNS = {**{f: f for f in USER_DATA_HASHED + USER_DATA_PLAIN}, "lead_id": "meta_lead_id"}
# Per event, one bit per customer information key its lead has (identity.BIT), whatever its action source.
IDENTITY_KEYS = "identity_keys"
MATCH_KEYS = "match_keys"
# The CRM mapping's event name, also for a Click-to-WhatsApp event (sent as a CRM event without a WABA).
CRM_EVENT_NAME = "crm_event_name"
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
# The lead status a web form creates: the one stage that happens on the website.
WEBSITE_STATUS = "new"
# Why a value of Konektor's row makes the event unsendable, naming the column (None: nothing wrong).
INPUT_PROBLEM = "input_problem"


def _present(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip()
    return text.notna() & (text != "")


def _text_or_none(series: pd.Series) -> pd.Series:
    # None, not pd.NA, for missing text: pd.NA is truthy-ambiguous and not JSON serialisable.
    text = series.astype("string").str.strip()
    keep = (text.notna() & (text != "")).fillna(False).to_numpy(dtype=bool)
    return text.astype("object").where(keep, None)


def derive_event_id(status_change_id: pd.Series, change_event_id: pd.Series) -> pd.Series:
    """The browser pixel's id when the app stored one (so Meta deduplicates the two copies), else an id
    derived from the change alone: identical on every rerun and backfill."""
    own = _text_or_none(change_event_id)
    derived = "konektor-lsc-" + status_change_id.astype("int64").astype("string")
    return own.where(own.notna(), derived.astype("object"))


def build_events(
    changes: pd.DataFrame, user_data: pd.DataFrame, waba_id: pd.Series, mapping: EventMapping
) -> pd.DataFrame:
    """One row per (status change, pixel) with everything validation and the payload need.

    `changes` is the extract frame, `user_data` the normalised and hashed identifiers (same index),
    `waba_id` the resolved WABA per row. Without a `pixel_id` column the rows are per change, and
    `fanout.events_per_pixel` makes the pairs.
    """
    to_status = normalise_status(changes["to_status"])
    has_clid = _present(changes["ctwa_clid"])
    # The mapping's keys in the same form (a configured "Won " must match the status "won").
    crm, messaging = _by_status(mapping.crm), _by_status(mapping.messaging)
    is_messaging = has_clid & to_status.isin(list(messaging)).fillna(False)
    url = _text_or_none(changes["landing_page_url"])
    is_http = url.astype("string").str.match(r"(?i)^https?://").fillna(False).astype(bool)
    # Where the conversion happened (Meta's rule): on the website only for the lead's own web form (its
    # `new`) or a change the browser pixel reported too (its event_id); later stages are CRM events,
    # which still carry the browser's ip, user agent and cookies as match keys.
    on_site = (to_status == WEBSITE_STATUS).fillna(False) | _present(changes["change_event_id"])
    is_website = ~is_messaging & on_site & is_http & user_data["client_user_agent"].notna()

    action_source = np.select(
        [is_messaging.to_numpy(), is_website.to_numpy()],
        ["business_messaging", "website"],
        default="system_generated",
    )
    crm_name = to_status.map(crm)
    messaging_name = to_status.map(messaging)
    event_name = messaging_name.where(is_messaging, crm_name)

    value = pd.to_numeric(changes["deal_value"], errors="coerce").astype("float64")
    bad_value = _unusable(changes, "deal_value")
    infinite = np.isinf(value.to_numpy())  # no extract in front (unit tests, callers): same rule
    if infinite.any():
        bad_value[infinite] = value[infinite].astype(str).to_numpy(dtype=object)
    value = value.where(bad_value.isna())
    currency = _text_or_none(changes["deal_currency"])
    currency = currency.where(currency.notna(), _text_or_none(changes["default_currency"]))
    currency = currency.astype("string").str.upper().astype("object").where(currency.notna(), None)
    is_purchase = (event_name == "Purchase").fillna(False).astype(bool)

    # Meta's identity rule: only customer information inside one of its weak combinations is refused.
    bits = key_bits(user_data)
    matchable = np.where(is_weak(bits), 0, np.bitwise_count(bits)).astype("int64")
    clid = _text_or_none(changes["ctwa_clid"])
    n_identifiers = np.where(is_messaging, clid.notna().astype("int64"), matchable)

    changed_at = pd.to_datetime(changes["changed_at"], utc=True, errors="coerce")
    bad_changed_at = _unusable(changes, "changed_at")
    unexplained = (changed_at.isna() & bad_changed_at.isna()).to_numpy()  # no extract in front
    if unexplained.any():
        shown = changes["changed_at"][unexplained]
        bad_changed_at[unexplained] = [str(v) if pd.notna(v) else "NULL" for v in shown.tolist()]
    seconds = (changed_at - EPOCH) // pd.Timedelta(seconds=1)
    events = pd.DataFrame(
        {
            "status_change_id": changes["status_change_id"].astype("int64"),
            "pixel_id": (
                changes["pixel_id"].astype("string").astype("object") if "pixel_id" in changes else None
            ),  # fmt: skip
            "lead_id": changes["lead_id"].astype("int64"),
            "workspace_id": changes["workspace_id"].astype("int64"),
            "to_status": to_status.astype("object"),
            "event_name": event_name.astype("object").where(event_name.notna(), None),
            "event_id": derive_event_id(changes["status_change_id"], changes["change_event_id"]),
            "event_time": seconds.fillna(0).astype("int64"),  # 0 only where the row is skipped
            "changed_at": changed_at,
            "action_source": action_source,
            "event_source_url": url.where(is_website, None),
            "value": value.where(is_purchase),
            "currency": currency.where(is_purchase, None),
            "ctwa_clid": clid.where(is_messaging, None),
            "waba_id": waba_id.where(is_messaging, None).astype("object"),
            # Why the session's WABA id was unusable (None elsewhere); fanout adds the pixel's side.
            "session_waba_problem": _session_waba_problems(waba_id, is_messaging),
            # Also on Click-to-WhatsApp events: one without a WABA goes as a CRM event (fanout.py).
            "lead_event_source": _text_or_none(changes["lead_source_name"]).where(
                action_source != "website", None
            ),
            CRM_EVENT_NAME: crm_name.astype("object").where(crm_name.notna(), None),
            "n_identifiers": n_identifiers,
            IDENTITY_KEYS: bits,
            # What the event carries for Meta to match on (sync_logs.match_keys): a business-messaging
            # event only its click id.
            MATCH_KEYS: np.where(is_messaging.to_numpy(dtype=bool), "ctwa_clid", key_names(bits)),
            **ad_ids(changes),
        },
        index=changes.index,
    )
    # Business-messaging events carry only the click id and WABA (contract doc, payloads.py); they keep
    # the lead's identifiers too, for when no WABA resolves and they go as a CRM event instead.
    for field, column in USER_DATA_COLUMNS.items():
        events[column] = user_data[field]
    events[INPUT_PROBLEM] = _input_problems(changes, is_purchase, bad_changed_at, bad_value)
    return events


def normalise_status(to_status: pd.Series) -> pd.Series:
    """A lead status as the mapping's keys are written: trimmed and lower-cased (' Won ' -> 'won')."""
    return to_status.astype("string").str.strip().str.lower()


def _session_waba_problems(waba_id: pd.Series, is_messaging: pd.Series) -> pd.Series:
    problems = waba_id.attrs.get(SESSION_WABA_PROBLEM)
    out = np.full(len(waba_id), None, dtype=object)
    if problems is not None:
        keep = is_messaging.to_numpy(dtype=bool)
        out[keep] = np.asarray(problems, dtype=object)[keep]
    return pd.Series(out, index=waba_id.index, dtype=object)  # None, not NaN, where missing


def _by_status(names: dict[str, str]) -> dict[str, str]:
    return {status.strip().lower(): name for status, name in names.items()}


def _unusable(changes: pd.DataFrame, column: str) -> pd.Series:
    """The raw text of the column's values the extract could not use, None elsewhere."""
    name = UNUSABLE.get(column)
    if name in changes:
        return changes[name].astype("object").where(changes[name].notna(), None)
    return pd.Series(np.full(len(changes), None, dtype=object), index=changes.index, dtype=object)


def _quoted(raw: pd.Series) -> pd.Series:
    # Never a PII column: timestamps and amounts only. Shortened, so a reason stays a line.
    return " ('" + raw.astype("string").str.slice(0, 40) + "')"


def _input_problems(
    changes: pd.DataFrame, is_purchase: pd.Series, bad_changed_at: pd.Series, bad_value: pd.Series
) -> pd.Series:
    """Per event, why a value in Konektor's row makes it unsendable (None for nearly every row).

    Checked before every validation rule. Only a value the event needs counts: a 'NaN' deal value
    holds a Purchase, not a Lead. An unusable lead creation time only drops the click id (fbc) built
    from fbclid: the event still has Konektor's lead id (external_id) and a country, which Meta takes.
    """
    problems = np.full(len(changes), None, dtype=object)
    checks = (
        (bad_changed_at.notna(), "lead_status_changes.changed_at is not a usable timestamp", bad_changed_at,
         ""),
        (bad_value.notna() & is_purchase, "leads.deal_value is not a usable number", bad_value,
         " (a Purchase needs its deal value)"),
    )  # fmt: skip
    for rows, text, raw, tail in reversed(checks):  # the first check wins: written last
        rows = rows.fillna(False).to_numpy(dtype=bool)
        if rows.any():
            problems[rows] = (text + _quoted(raw[rows]) + tail).to_numpy(dtype=object)
    return pd.Series(problems, index=changes.index, dtype=object)
