"""The four outcomes an event can end with, and the sync_logs rows that record them.

The recorder (recording.py) is the only writer of sync_logs, and `Outcomes.copy_lines` the only place
its COPY text is built: from the event's key columns, which travel with every batch and skip. A batch's
rows share their result (status, error, fbtrace id, attempts, run); only the event's own keys differ
per row. So the keys' part of each line is built column-wise for the whole batch (`copy_keys`), and
the rows are those parts plus one shared tail: a string join, not a DataFrame build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

ACCEPTED = "accepted"
PARTIAL = "partial_failure"
FAILED = "failed"
SKIPPED = "skipped"
FINAL = (ACCEPTED, PARTIAL, SKIPPED)

# Per (change, pixel), what the reader of sync_logs should know of an event that went out changed (a
# Click-to-WhatsApp lead without a WABA sent as a CRM event); NULL for nearly every row.
NOTE = "note"
# The pixel's part first: the rest is the same for every pixel of a change, built once per change.
PIXEL_KEY_COLUMNS = ("pixel_id", "waba_id", NOTE)
# match_keys: the customer information keys the event carried; campaign_id, adset_id, ad_id: the Meta ad
# it came from (landing URL). For analysts: match coverage per pixel, conversions per campaign.
CHANGE_KEY_COLUMNS = (
    "status_change_id", "lead_id", "workspace_id", "event_name", "event_id", "action_source", "event_time",
    "match_keys", "campaign_id", "adset_id", "ad_id",
)  # fmt: skip
_OPTIONAL_CHANGE_KEYS = CHANGE_KEY_COLUMNS[-4:]
KEY_COLUMNS = PIXEL_KEY_COLUMNS + CHANGE_KEY_COLUMNS
# test_event_code: the code the events were sent with (Meta's Test Events tab), NULL when sent live or
# not sent. A test send is not a final outcome once that code is no longer the one a run sends with.
RESULT_COLUMNS = (
    "status", "reason", "error_code", "error_subcode", "fbtrace_id", "attempts", "run_id", "test_event_code",
)  # fmt: skip
COLUMNS = KEY_COLUMNS + RESULT_COLUMNS

# COPY's text format: backslash, tab, newline and carriage return must be escaped inside values. A NUL
# cannot be stored in text at all (COPY fails, and with it the batch's outcomes): Meta's messages may
# carry one ("\u0000" in their JSON), so it becomes U+FFFD, the replacement character.
_SPECIAL = re.compile(r"[\\\t\n\r\x00]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\ufffd"})
NULL = "\\N"


def copy_text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return NULL
    return str(value).translate(_ESCAPES)


def stored_text(text: str) -> str:
    """The text PostgreSQL keeps of `text` (in sync_logs, or in jsonb): NUL as U+FFFD, and what UTF-8
    cannot encode (a lone surrogate) as '?'."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode()
    return text


def _copy_texts(values: list) -> list[str]:
    present = [v if isinstance(v, str) else None if v is None or v != v else str(v) for v in values]
    # One C-level scan of the whole column decides whether any value needs escaping (rarely).
    if _SPECIAL.search("".join(v for v in present if v is not None)):
        return [NULL if v is None else v.translate(_ESCAPES) for v in present]
    return [NULL if v is None else v for v in present]


def change_keys(events: pd.DataFrame) -> list[str]:
    """Per event, the CHANGE_KEY_COLUMNS part of its sync_logs COPY line (text format)."""
    seconds = events["event_time"].to_numpy(dtype="int64").astype("datetime64[s]")
    columns = [
        events["status_change_id"].astype("int64").astype(str).tolist(),
        events["lead_id"].astype("int64").astype(str).tolist(),
        events["workspace_id"].astype("int64").astype(str).tolist(),
        _copy_texts(events["event_name"].tolist()),
        _copy_texts(events["event_id"].tolist()),
        _copy_texts(events["action_source"].tolist()),
        [t + "Z" for t in np.datetime_as_string(seconds, unit="s").tolist()],
        *(
            _copy_texts(events[c].tolist()) if c in events else [NULL] * len(events)
            for c in _OPTIONAL_CHANGE_KEYS
        ),
    ]
    return list(map("\t".join, zip(*columns, strict=True)))


def copy_keys(events: pd.DataFrame) -> list[str]:
    """Per event, the KEY_COLUMNS part of its sync_logs COPY line."""
    changes = change_keys(events)
    pixels = _copy_texts(events["pixel_id"].tolist())
    wabas = _copy_texts(events["waba_id"].tolist())
    notes = _copy_texts(events[NOTE].tolist()) if NOTE in events else [NULL] * len(events)
    return [f"{p}\t{w}\t{n}\t{c}" for p, w, n, c in zip(pixels, wabas, notes, changes, strict=True)]


@dataclass(frozen=True)
class Outcomes:
    """The outcome of some events, all with one status (skip reasons may differ per row)."""

    events: pd.DataFrame
    status: str
    reason: str | pd.Series | None
    run_id: str
    attempts: int = 0
    fbtrace_id: str | None = None
    error_code: int | None = None
    error_subcode: int | None = None
    test_event_code: str | None = None

    def __len__(self) -> int:
        return len(self.events)

    def copy_lines(self) -> str:
        """The rows in COPY text format, one line each, ready for COPY ... FROM STDIN."""
        keys = copy_keys(self.events)
        shared = (self.error_code, self.error_subcode, self.fbtrace_id, self.attempts, self.run_id,
                  self.test_event_code)  # fmt: skip
        rest = "\t".join(map(copy_text, shared)) + "\n"
        if isinstance(self.reason, pd.Series):
            head = f"\t{copy_text(self.status)}\t"
            reasons = [copy_text(r) for r in self.reason.tolist()]
            return "".join(k + head + r + "\t" + rest for k, r in zip(keys, reasons, strict=True))
        tail = f"\t{copy_text(self.status)}\t{copy_text(self.reason)}\t{rest}"
        return tail.join(keys) + tail if keys else ""

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (tests and reports; recording uses copy_lines)."""
        e = self.events
        reason = self.reason.to_numpy() if isinstance(self.reason, pd.Series) else self.reason
        return pd.DataFrame(
            {
                **{c: e[c].to_numpy() if c in e else None for c in KEY_COLUMNS},
                "status": self.status, "reason": reason, "error_code": self.error_code,
                "error_subcode": self.error_subcode, "fbtrace_id": self.fbtrace_id,
                "attempts": self.attempts, "run_id": self.run_id, "test_event_code": self.test_event_code,
            },
            columns=list(COLUMNS),
        )  # fmt: skip
