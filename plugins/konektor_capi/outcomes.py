"""The four outcomes an event can end with, and the rows that record them in sync_logs."""

from __future__ import annotations

import pandas as pd

ACCEPTED = "accepted"
PARTIAL = "partial_failure"
FAILED = "failed"
SKIPPED = "skipped"
FINAL = (ACCEPTED, PARTIAL, SKIPPED)

COLUMNS = (
    "status_change_id", "pixel_id", "lead_id", "workspace_id", "waba_id", "event_name", "event_id",
    "action_source", "event_time", "status", "reason", "error_code", "error_subcode", "fbtrace_id",
    "attempts", "run_id",
)  # fmt: skip


def outcome_frame(
    events: pd.DataFrame,
    *,
    status: str,
    reason: str | pd.Series | None,
    run_id: str,
    attempts: int = 0,
    fbtrace_id: str | None = None,
    error_code: int | None = None,
    error_subcode: int | None = None,
) -> pd.DataFrame:
    """sync_logs rows for these events, all with one status (reasons may differ per row)."""
    return pd.DataFrame(
        {
            "status_change_id": events["status_change_id"].to_numpy(),
            "pixel_id": events["pixel_id"].to_numpy(),
            "lead_id": events["lead_id"].to_numpy(),
            "workspace_id": events["workspace_id"].to_numpy(),
            "waba_id": events["waba_id"].to_numpy(),
            "event_name": events["event_name"].to_numpy(),
            "event_id": events["event_id"].to_numpy(),
            "action_source": events["action_source"].to_numpy(),
            "event_time": events["event_time"].to_numpy(),
            "status": status,
            "reason": reason.to_numpy() if isinstance(reason, pd.Series) else reason,
            "error_code": error_code,
            "error_subcode": error_subcode,
            "fbtrace_id": fbtrace_id,
            "attempts": attempts,
            "run_id": run_id,
        },
        columns=list(COLUMNS),
    )
