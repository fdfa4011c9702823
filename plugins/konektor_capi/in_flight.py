"""How many requests to Meta a sync task keeps in flight, and when to send fewer.

Meta answers a 1000-event request in about 0.3-1.5 s; one request after the other, a task spends
nearly all its time waiting. So up to `max_in_flight` requests go out at once, and Meta's throttling
(codes 4, 17, 32, 613, 80000-80014, HTTP 429) turns that down: the limit halves, at most once per
round (answers to requests sent before the last cut are the same overload, not a new one), a
Retry-After pauses every new request until it has passed, and a round of successes (as many as the
limit) grows it back by one, never above the ceiling. `AdaptiveLimit` is that rule, pure; `Gate`
applies it to threads, around each HTTP attempt (retries and bisection halves included).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from konektor_capi.retry_policy import Backoff, is_throttling
from konektor_capi.tuning import DEFAULT_MAX_IN_FLIGHT


@dataclass
class AdaptiveLimit:
    ceiling: int = DEFAULT_MAX_IN_FLIGHT
    limit: int = 0  # 0: start at the ceiling
    round: int = 0  # bumped by each cut: tells a new overload from answers to the last one
    streak: int = 0  # successes since the last change
    resume_at: float = 0.0  # no new request before this time (a Retry-After)
    max_pause: float = Backoff.max_retry_after

    def __post_init__(self) -> None:
        if self.ceiling < 1:
            raise ValueError("the ceiling of requests in flight must be at least 1")
        self.limit = min(self.limit or self.ceiling, self.ceiling)

    def answered(
        self, sent_in_round: int, *, ok: bool, throttled: bool, retry_after: float | None, now: float
    ) -> None:
        """Takes one answer in: `sent_in_round` is the round its request started in."""
        if retry_after is not None and retry_after > 0:
            self.resume_at = max(self.resume_at, now + min(retry_after, self.max_pause))
        if throttled:
            self.streak = 0
            if sent_in_round == self.round:
                self.limit = max(1, self.limit // 2)
                self.round += 1
            return
        if ok:
            self.streak += 1
            if self.streak >= self.limit:
                self.limit = min(self.ceiling, self.limit + 1)
                self.streak = 0

    def wait(self, in_flight: int, now: float) -> float | None:
        """0 when a request may start now, the seconds until it may, or None: wait for an answer."""
        if now < self.resume_at:
            return self.resume_at - now
        return 0.0 if in_flight < self.limit else None


class Gate:
    """An AdaptiveLimit shared by threads: `call` waits for a slot, makes one attempt, reports it."""

    def __init__(self, limit: AdaptiveLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._cond = threading.Condition()
        self.in_flight = 0
        self.peak = 0  # the most requests this gate let through at once
        self.throttled = 0  # answers that were throttling
        self.lowest = limit.limit  # the lowest the limit went

    def call(self, attempt: Callable, *args, **kwargs):
        """`attempt(*args, **kwargs)`, which returns a graph_client.SendResult, inside a slot."""
        sent_in = self._enter()
        result = None
        try:
            result = attempt(*args, **kwargs)
            return result
        finally:
            self._leave(sent_in, result)

    def _enter(self) -> int:
        with self._cond:
            while (pause := self.limit.wait(self.in_flight, self._clock())) != 0:
                self._cond.wait(pause)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return self.limit.round

    def _leave(self, sent_in: int, result) -> None:
        with self._cond:
            self.in_flight -= 1
            if result is not None:
                error = result.error
                throttled = error is not None and is_throttling(error)
                self.throttled += throttled
                self.limit.answered(sent_in, ok=error is None, throttled=throttled,
                                    retry_after=error.retry_after if error else None,
                                    now=self._clock())  # fmt: skip
                self.lowest = min(self.lowest, self.limit.limit)
            self._cond.notify_all()
