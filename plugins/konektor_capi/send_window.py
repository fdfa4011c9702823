"""Meta's 7-day window, checked again when a batch is about to be sent.

Validation holds back what is too old when a page is prepared; a batch may then wait (the Batcher keeps a
page's remainder for the next page, the delivery queue holds up to 50 items, retries back off). An event
that crosses the line meanwhile would make Meta reject its whole batch (100 / 2804003), so each batch is
cut again at send time by the same rule and margin: the late events are recorded `skipped`, too old,
and the rest go.
"""

from __future__ import annotations

import pandas as pd

from konektor_capi.outcomes import SKIPPED, Outcomes
from konektor_capi.runs import META_MAX_AGE, SEND_MARGIN
from konektor_capi.validation import RULES

_TOO_OLD = next(rule for rule in RULES if rule.name == "event_time_within_7_days")


def oldest_sendable(now: float) -> int:
    """The oldest event_time sent at `now`: younger than Meta's 7 days by SEND_MARGIN."""
    return int(now) - int((META_MAX_AGE - SEND_MARGIN).total_seconds())


def cut_expired(batch: pd.DataFrame, now: float, run_id: str) -> tuple[pd.DataFrame, Outcomes | None]:
    """(the events still inside the window, the skips of those that are not, or None)."""
    late = (batch["event_time"] < oldest_sendable(now)).to_numpy(dtype=bool)
    if not late.any():
        return batch, None
    rows = batch[late]
    reason = _TOO_OLD.reason(rows, int(now))
    reasons = reason if isinstance(reason, pd.Series) else pd.Series(reason, index=rows.index, dtype=object)
    return batch[~late], Outcomes(rows, SKIPPED, reasons.astype(object), run_id)
