"""The WhatsApp Business Account a Click-to-WhatsApp event is sent with, in one place.

Order: the WABA of the WhatsApp session whose number matches the lead's agent number
(`session_wabas`, once per change), else the pixel's WABA (`fallback_waba`, once per change x pixel
pair), else none: Meta would reject a business-messaging event without one ("Missing Page ID Or
WhatsApp Business account ID"), so the conversion goes as a CRM event when the lead has other
identifiers and is skipped only when nothing could match. A WABA id that is there but not a number
counts as none, and the row's reason names it and where it came from (`waba_problems`): a WABA id is
an id, not PII.
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


def waba_problems(values: pd.Series, owner: pd.Series) -> pd.Series:
    """Per value, why it is not a usable WABA id, naming it and its `owner` ("pixel 1234"); None where
    the value is usable or simply missing (NULL or blank)."""
    text = values.astype("object").where(values.notna(), None).astype("string")
    given = text.str.strip().fillna("").ne("").to_numpy(dtype=bool)
    bad = given & clean_waba_ids(values).isna().to_numpy()
    shown = text.str.slice(0, 40)
    problems = ("WhatsApp Business Account id '" + shown + "' of " + owner.astype("string")
                + " is not numeric (5 to 20 digits)")  # fmt: skip
    return problems.astype("object").where(bad, None)


LOOKUP_COLUMNS = ["workspace_id", "phone", "session_waba_id", "session_waba_problem"]
# Key of `session_wabas`' result's attrs: per row, why the matched session's WABA id is unusable.
SESSION_WABA_PROBLEM = "session_waba_problem"


def session_waba_lookup(sessions: pd.DataFrame) -> pd.DataFrame:
    """(workspace_id, phone) -> session_waba_id, or session_waba_problem where that id is unusable.

    `sessions` has id, workspace_id, phone_number, waba_id, default_country. When two sessions share a
    number, the oldest one with a usable WABA wins, so the choice never flips between runs; a number
    whose sessions all have an unusable WABA id keeps the oldest, so the skip reason can name it.
    """
    if sessions.empty:
        return pd.DataFrame({c: [] for c in LOOKUP_COLUMNS})
    owners = "WhatsApp session " + sessions["id"].astype(str)
    frame = sessions.assign(
        phone=normalise_phones(sessions["phone_number"], sessions["default_country"]),
        session_waba_id=clean_waba_ids(sessions["waba_id"]),
        session_waba_problem=waba_problems(sessions["waba_id"], owners),
    )
    usable = frame["session_waba_id"].notna()
    frame = frame[frame["phone"].notna() & (usable | frame["session_waba_problem"].notna())]
    frame = frame.assign(_unusable=frame["session_waba_id"].isna())
    frame = frame.sort_values(["_unusable", "id"], kind="stable")
    frame = frame.drop_duplicates(["workspace_id", "phone"], keep="first")
    return frame[LOOKUP_COLUMNS].reset_index(drop=True)


def session_wabas(
    workspace_id: pd.Series, agent_phone: pd.Series, default_country: pd.Series, lookup: pd.DataFrame
) -> pd.Series:
    """Per row, the WABA of the session on the lead's agent number (None where no session matches).

    Where the matched session's WABA id is unusable, the result's attrs[SESSION_WABA_PROBLEM] (an
    object array, None elsewhere) says so; the event builder carries it into the skip reason.
    """
    keys = pd.DataFrame(
        {
            "workspace_id": workspace_id.to_numpy(),
            "phone": normalise_phones(agent_phone, default_country).to_numpy(),
        }
    )
    found = keys.merge(lookup, on=["workspace_id", "phone"], how="left")
    matched = found["session_waba_id"]
    matched.index = workspace_id.index
    result = matched.astype("object").where(matched.notna(), None)
    if "session_waba_problem" in found:
        problems = found["session_waba_problem"]
        problems = problems.astype("object").where(problems.notna(), None)
        result.attrs[SESSION_WABA_PROBLEM] = problems.to_numpy()
    return result


def fallback_waba(session_waba: pd.Series, pixel_waba: pd.Series) -> pd.Series:
    """The session's WABA, else the (cleaned) pixel's."""
    chosen = session_waba.where(session_waba.notna(), pixel_waba.to_numpy())
    return chosen.astype("object").where(chosen.notna(), None)
