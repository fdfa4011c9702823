"""The WhatsApp Business Account a Click-to-WhatsApp event is sent with, in one place.

Order: the WABA of the WhatsApp session whose number matches the lead's agent number, else the pixel's
WABA, else none (the event is skipped: Meta rejects it with "Missing Page ID Or WhatsApp Business
account ID").
"""

from __future__ import annotations

import pandas as pd

from konektor_capi.phones import normalise_phones


def clean_waba_ids(values: pd.Series) -> pd.Series:
    """WABA ids are numeric; people paste them with spaces. Anything else counts as missing."""
    text = values.astype("object").where(values.notna(), None)
    text = text.map(lambda v: "".join(str(v).split()) if v is not None else None, na_action="ignore")
    valid = text.notna() & text.astype("string").str.fullmatch(r"\d{5,20}").fillna(False).astype(bool)
    return text.where(valid, None).astype("object")


def session_waba_lookup(sessions: pd.DataFrame) -> pd.DataFrame:
    """(workspace_id, phone) -> waba_id for sessions that have a usable WABA.

    `sessions` has id, workspace_id, phone_number, waba_id, default_country. When two sessions share a
    number, the oldest one with a WABA wins, so the choice never flips between runs.
    """
    if sessions.empty:
        return pd.DataFrame({"workspace_id": [], "phone": [], "session_waba_id": []})
    frame = sessions.sort_values("id").assign(
        phone=normalise_phones(sessions["phone_number"], sessions["default_country"]),
        session_waba_id=clean_waba_ids(sessions["waba_id"]),
    )
    frame = frame[frame["phone"].notna() & frame["session_waba_id"].notna()]
    frame = frame.drop_duplicates(["workspace_id", "phone"], keep="first")
    return frame[["workspace_id", "phone", "session_waba_id"]].reset_index(drop=True)


def session_wabas(
    workspace_id: pd.Series, agent_phone: pd.Series, default_country: pd.Series, lookup: pd.DataFrame
) -> pd.Series:
    """Per row, the WABA of the session on the lead's agent number (None where no session matches)."""
    keys = pd.DataFrame(
        {
            "workspace_id": workspace_id.to_numpy(),
            "phone": normalise_phones(agent_phone, default_country).to_numpy(),
        }
    )
    matched = keys.merge(lookup, on=["workspace_id", "phone"], how="left")["session_waba_id"]
    matched.index = workspace_id.index
    return matched.astype("object").where(matched.notna(), None)


def resolve_waba(
    workspace_id: pd.Series,
    agent_phone: pd.Series,
    default_country: pd.Series,
    pixel_waba_id: pd.Series,
    lookup: pd.DataFrame,
) -> pd.Series:
    """The WABA per row (None where there is none), by the order in the module docstring."""
    matched = session_wabas(workspace_id, agent_phone, default_country, lookup)
    return fallback_waba(matched, clean_waba_ids(pixel_waba_id))


def fallback_waba(session_waba: pd.Series, pixel_waba: pd.Series) -> pd.Series:
    """The session's WABA, else the (cleaned) pixel's."""
    chosen = session_waba.where(session_waba.notna(), pixel_waba.to_numpy())
    return chosen.astype("object").where(chosen.notna(), None)
