"""Sends one pixel's events, batch by batch, and turns Meta's answers into outcomes.

A batch Meta rejects as invalid is bisected, so one bad event costs about 2*log2(n) extra requests
instead of sinking its neighbours. A token, permission or pixel error stops the pixel: every event
not yet sent fails with that reason, and other pixels (other tasks) go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from konektor_capi.graph_client import GraphApiClient, SendResult
from konektor_capi.outcomes import ACCEPTED, FAILED, PARTIAL, outcome_frame
from konektor_capi.payloads import event_dicts, request_body
from konektor_capi.retry_policy import Decision

MAX_BATCH = 1000


@dataclass(frozen=True)
class PixelTarget:
    pixel_id: str
    access_token: str
    test_event_code: str | None = None

    def __repr__(self) -> str:  # keeps the token out of any log line that prints the target
        return f"PixelTarget(pixel_id={self.pixel_id!r}, test_event_code={self.test_event_code!r})"


def iter_batches(events: pd.DataFrame, max_size: int = MAX_BATCH) -> Iterator[pd.DataFrame]:
    """At most `max_size` events per request, never mixing WABAs in one request."""
    if events.empty:
        return
    keys = events["waba_id"].astype("object").where(events["waba_id"].notna(), "")
    for _, group in events.groupby(keys, sort=True):
        for start in range(0, len(group), max_size):
            yield group.iloc[start : start + max_size]


class PixelSender:
    def __init__(
        self,
        client: GraphApiClient,
        target: PixelTarget,
        record: Callable[[pd.DataFrame], None],
        run_id: str,
    ) -> None:
        self.client = client
        self.target = target
        self.record = record
        self.run_id = run_id
        self.pixel_error: SendResult | None = None
        self.requests = 0

    def send_all(self, events: pd.DataFrame) -> None:
        for batch in iter_batches(events):
            self.send_batch(batch)

    def send_batch(self, batch: pd.DataFrame) -> None:
        if self.pixel_error is not None:
            self.record(self._outcomes(batch, FAILED, self.pixel_error, attempts=0))
            return
        self._send(batch)

    def _send(self, batch: pd.DataFrame) -> None:
        body = request_body(event_dicts(batch), self.target.access_token, self.target.test_event_code)
        result = self.client.send(self.target.pixel_id, body)
        self.requests += result.attempts
        if result.ok:
            partial = bool(result.messages) or result.events_received < len(batch)
            self.record(self._outcomes(batch, PARTIAL if partial else ACCEPTED, result, result.attempts))
            return
        if result.decision is Decision.FAIL_PIXEL:
            self.pixel_error = result
        if result.decision is Decision.BISECT and len(batch) > 1:
            # Charge the rejected attempt to no one: each half reports its own attempts.
            middle = len(batch) // 2
            self._send(batch.iloc[:middle])
            if self.pixel_error is not None:
                self.record(self._outcomes(batch.iloc[middle:], FAILED, self.pixel_error, attempts=0))
            else:
                self._send(batch.iloc[middle:])
            return
        self.record(self._outcomes(batch, FAILED, result, result.attempts))

    def _outcomes(self, batch: pd.DataFrame, status: str, result: SendResult, attempts: int) -> pd.DataFrame:
        reason = None
        if status == PARTIAL:
            shortfall = len(batch) - result.events_received
            parts = [f"meta took {result.events_received} of {len(batch)} events"] if shortfall > 0 else []
            parts += list(result.messages)
            reason = "; ".join(parts)[:1000]
        elif status == FAILED:
            reason = _scrub(result.error.reason, self.target.access_token)
        return outcome_frame(
            batch,
            status=status,
            reason=reason,
            run_id=self.run_id,
            attempts=attempts,
            fbtrace_id=result.fbtrace_id,
            error_code=result.error.code if result.error else None,
            error_subcode=result.error.subcode if result.error else None,
        )


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text
