"""How many events ended how: the one tally of a group, from the sink that records (or, in a dry run,
counts) its outcomes to the group's stored result, its task log and the run's dry-run summary.

Its JSON is the run summary's shape (`outcomes`, `top_reasons`, `would_send`), so a run's summary
read from sync_logs (pipeline.run_summary) and one added up from its groups read the same.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from konektor_capi.outcomes import ACCEPTED, FAILED, Outcomes, stored_text

TOP_REASONS = 10


@dataclass
class OutcomeCounts:
    # (pixel id, event name or "-", status) -> events
    outcomes: Counter = field(default_factory=Counter)
    # (status, reason as sync_logs stores it) -> events, for every status but accepted
    reasons: Counter = field(default_factory=Counter)
    # (pixel id, reason) -> failed events: what a failed task's message names, per pixel
    failures: Counter = field(default_factory=Counter)
    # (pixel id, event name, action source) -> events a dry run would send
    would_send: Counter = field(default_factory=Counter)

    def add(self, outcomes: Outcomes) -> None:
        """Counts outcomes as recorded. Reasons are counted as stored: they end up in jsonb (the run's
        summary), which cannot hold NUL either."""
        events = outcomes.events
        names = events["event_name"].where(events["event_name"].notna(), "-")
        for (pixel, name), n in Counter(zip(events["pixel_id"], names, strict=True)).items():
            self.outcomes[(pixel, name, outcomes.status)] += n
        if outcomes.status == ACCEPTED:
            return
        if isinstance(outcomes.reason, pd.Series):
            for reason, n in Counter(r for r in outcomes.reason.tolist() if isinstance(r, str)).items():
                self.reasons[(outcomes.status, stored_text(reason))] += n
        elif isinstance(outcomes.reason, str):
            reason = stored_text(outcomes.reason)
            self.reasons[(outcomes.status, reason)] += len(outcomes)
            if outcomes.status == FAILED:
                for pixel, n in Counter(events["pixel_id"].tolist()).items():
                    self.failures[(pixel, reason)] += n

    def add_would_send(self, ready: pd.DataFrame) -> None:
        keys = zip(ready["pixel_id"], ready["event_name"], ready["action_source"], strict=True)
        self.would_send.update(keys)

    def update(self, other: OutcomeCounts) -> None:
        self.outcomes.update(other.outcomes)
        self.reasons.update(other.reasons)
        self.failures.update(other.failures)
        self.would_send.update(other.would_send)

    @property
    def failed(self) -> int:
        return sum(n for (_, _, status), n in self.outcomes.items() if status == FAILED)

    def top_reasons(self, top: int = TOP_REASONS) -> list[tuple[str, str, int]]:
        """(status, reason, n), the commonest first: the order of run_top_reasons.sql."""
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
        return [(status, reason, n) for (status, reason), n in ranked[:top]]

    def failure_summary(self) -> str:
        """Per pixel, how many events failed and the commonest reason: what an operator acts on."""
        by_pixel: dict[str, Counter] = {}
        for (pixel, reason), n in self.failures.items():
            by_pixel.setdefault(pixel, Counter())[reason] += n
        return "; ".join(
            f"pixel {pixel}: {sum(reasons.values())} ({reasons.most_common(1)[0][0]})"
            for pixel, reasons in sorted(by_pixel.items())
        )

    def to_dict(self, top: int = TOP_REASONS) -> dict:
        """The run summary's shape. Only the `top` commonest reasons are kept: a group's reasons may
        name values (a currency code, a date), so there can be one per event."""
        return {
            "outcomes": [{"pixel_id": p, "event_name": e, "status": s, "n": n}
                         for (p, e, s), n in sorted(self.outcomes.items(), key=str)],
            "top_reasons": [{"status": s, "reason": r, "n": n} for s, r, n in self.top_reasons(top)],
            "would_send": [{"pixel_id": p, "event_name": e, "action_source": a, "n": n}
                           for (p, e, a), n in sorted(self.would_send.items(), key=str)],
            "failed": self.failed,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> OutcomeCounts:
        """Back from to_dict (failures are not stored: they are for the task that counted them)."""
        counts = cls()
        for o in data.get("outcomes") or []:
            counts.outcomes[(o["pixel_id"], o["event_name"], o["status"])] += o["n"]
        for r in data.get("top_reasons") or []:
            counts.reasons[(r["status"], r["reason"])] += r["n"]
        for w in data.get("would_send") or []:
            counts.would_send[(w["pixel_id"], w["event_name"], w["action_source"])] += w["n"]
        return counts
