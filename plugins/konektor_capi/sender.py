"""Sends one pixel's events, batch by batch, and turns Meta's answers into outcomes.

A batch Meta rejects as invalid is bisected, so one bad event costs about 2*log2(n) extra requests
instead of sinking its neighbours. A token, permission or pixel error stops the pixel: every event
not yet sent fails with that reason, and other pixels (other tasks) go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from konektor_capi.graph_client import GraphApiClient, SendResult
from konektor_capi.outcomes import ACCEPTED, FAILED, PARTIAL, Outcomes
from konektor_capi.payloads import batch_body
from konektor_capi.retry_policy import Decision
from konektor_capi.scrub import scrub, scrub_and_cut

MAX_BATCH = 1000


@dataclass(frozen=True)
class PixelTarget:
    pixel_id: str
    access_token: str
    test_event_code: str | None = None

    def __repr__(self) -> str:  # keeps the token out of any log line that prints the target
        return f"PixelTarget(pixel_id={self.pixel_id!r}, test_event_code={self.test_event_code!r})"


class Batcher:
    """Cuts a stream of pages into batches of at most `max_size` events per key (pixel, WABA).

    A page's short remainder per key waits for the next page instead of going out as a small request
    of its own; `flush` hands over what is left at the end.
    """

    def __init__(self, max_size: int = MAX_BATCH) -> None:
        self.max_size = max_size
        self._held: dict[tuple, pd.DataFrame] = {}

    def add(self, key: tuple, events: pd.DataFrame) -> Iterator[pd.DataFrame]:
        held = self._held.pop(key, None)
        if held is not None:
            events = pd.concat([held, events])
        full = len(events) - len(events) % self.max_size
        for start in range(0, full, self.max_size):
            yield events.iloc[start : start + self.max_size]
        if full < len(events):
            self._held[key] = events.iloc[full:]

    def flush(self) -> Iterator[tuple[tuple, pd.DataFrame]]:
        held, self._held = self._held, {}
        for key in sorted(held, key=str):
            yield key, held[key]


class PixelSender:
    def __init__(
        self,
        client: GraphApiClient,
        target: PixelTarget,
        record: Callable[[Outcomes], None],
        run_id: str,
    ) -> None:
        self.client = client
        self.target = target
        self.record = record
        self.run_id = run_id
        self.pixel_error: SendResult | None = None
        self.requests = 0
        self._lock = threading.Lock()  # batches of one pixel may be sent from several threads

    def send_batch(self, batch: pd.DataFrame, body: bytes | None = None) -> None:
        """Sends one batch of at most MAX_BATCH events; `body` is its request body when already built."""
        if self.pixel_error is not None:
            self.record(self._outcomes(batch, FAILED, self.pixel_error, attempts=0))
            return
        self._send(batch, body)

    def body(self, batch: pd.DataFrame) -> bytes:
        return batch_body(batch, self.target.access_token, self.target.test_event_code)

    def _send(self, batch: pd.DataFrame, body: bytes | None = None) -> None:
        body = body if body is not None else self.body(batch)
        result = self.client.send(self.target.pixel_id, body, secret=self.target.access_token)
        with self._lock:
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

    def _outcomes(self, batch: pd.DataFrame, status: str, result: SendResult, attempts: int) -> Outcomes:
        # The client scrubs what it parses; a client that did not (a stand-in, a future path) must not
        # be able to leak the token into sync_logs, so Meta's texts are scrubbed here once more.
        token = self.target.access_token
        reason = None
        if status == PARTIAL:
            shortfall = len(batch) - result.events_received
            parts = [f"meta took {result.events_received} of {len(batch)} events"] if shortfall > 0 else []
            parts += list(result.messages)
            reason = scrub_and_cut("; ".join(parts), token, 1000)
        elif status == FAILED:
            reason = scrub(result.error.reason, token)
        return Outcomes(
            batch,
            status=status,
            reason=reason,
            run_id=self.run_id,
            attempts=attempts,
            fbtrace_id=scrub(result.fbtrace_id, token),
            error_code=result.error.code if result.error else None,
            error_subcode=result.error.subcode if result.error else None,
        )
