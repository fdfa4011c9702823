"""Sends a task's batches several at a time, and records each outcome as its answer arrives.

The caller hands batches over in order (`send`) and outcomes never sent (`record`); up to `workers`
threads run each batch's `PixelSender` (bisection and its halves stay in the thread that started the
batch), the in_flight.Gate in front of the client decides how many requests are really out, and one
recorder thread writes every outcome, in whatever order they come, each its own COPY transaction.

A pixel's first batch goes out alone: if Meta refuses its token or permission, its other batches
are failed without a request (PixelSender.pixel_error), as when batches went one after the other.

A worker takes its next batch only once its answer is committed, so a kill loses at most the answers
of the `workers` batches in flight (delivery runs max_in_flight workers); the rerun resends them with
the same event ids, which Meta deduplicates.
On an error the batches not yet started are dropped unsent, the ones in flight finish and are recorded.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from konektor_capi.outcomes import Outcomes
from konektor_capi.sender import PixelSender

_END = object()


class ConcurrentSender:
    def __init__(self, record: Callable[[Outcomes], None], workers: int) -> None:
        self.workers = workers
        self._record = record
        self._cond = threading.Condition()
        self._held: deque[tuple[PixelSender, pd.DataFrame]] = deque()  # handed over, not started
        self._running: Counter = Counter()  # per sender
        self._proven: set[int] = set()  # id() of senders whose pixel Meta did not refuse
        self._error: BaseException | None = None
        self._closed = False
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="send")
        # Bounded: a recorder slower than Meta holds the senders back instead of piling up outcomes.
        self._outcomes: queue.Queue = queue.Queue(maxsize=4 * workers)
        self._recorder = threading.Thread(target=self._record_all, name="record", daemon=True)
        self._recorder.start()

    def record(self, outcomes: Outcomes) -> None:
        """Queues outcomes of events never sent (skips) for the recorder."""
        self._outcomes.put((outcomes, None))

    def record_answer(self, outcomes: Outcomes) -> None:
        """Records outcomes of a batch Meta answered, returning once they are committed: a worker takes
        its next batch only then, so at most `workers` answers are ever unrecorded."""
        committed = threading.Event()
        self._outcomes.put((outcomes, committed))
        committed.wait()

    def send(self, sender: PixelSender, batch: pd.DataFrame) -> None:
        """Hands a batch over; waits while `workers` batches are running and as many wait to start."""
        with self._cond:
            self._raise_error()
            self._held.append((sender, batch))
            refused = self._start_ready()
        self._fail(refused)
        with self._cond:
            while len(self._held) + sum(self._running.values()) > 2 * self.workers and self._error is None:
                self._cond.wait()
            self._raise_error()

    def finish(self) -> None:
        """Waits until every batch is answered and every outcome recorded; raises what failed."""
        with self._cond:
            while (self._held or self._running) and self._error is None:
                self._cond.wait()
        self._close()
        self._raise_error()

    def __enter__(self) -> ConcurrentSender:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            with self._cond:
                self._held.clear()  # never sent: the rerun sends them
            self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True)  # the batches in flight finish and queue their outcomes
        self._outcomes.put(_END)
        self._recorder.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _start_ready(self) -> list:
        """Starts held batches while workers are free, in order, each pixel's first batch alone;
        returns the batches of refused pixels, to fail outside the lock (recording may wait)."""
        running = sum(self._running.values())
        waiting: deque = deque()
        refused = []
        while self._held and running < self.workers:
            sender, batch = self._held.popleft()
            if sender.pixel_error is not None:
                refused.append((sender, batch))
            elif id(sender) not in self._proven and self._running[id(sender)]:
                waiting.append((sender, batch))
            else:
                self._running[id(sender)] += 1
                running += 1
                self._pool.submit(self._run, sender, batch)
        self._held.extendleft(reversed(waiting))
        return refused

    @staticmethod
    def _fail(refused: list) -> None:
        for sender, batch in refused:
            sender.send_batch(batch)  # the pixel is known refused: fails the batch without a request

    def _run(self, sender: PixelSender, batch: pd.DataFrame) -> None:
        error = None
        try:
            sender.send_batch(batch)
        except BaseException as exc:
            error = exc
        with self._cond:
            key = id(sender)
            self._running[key] -= 1
            if not self._running[key]:
                del self._running[key]
            if error is not None:
                self._error = self._error or error
            elif sender.pixel_error is None:
                self._proven.add(key)
            refused = self._start_ready() if self._error is None else []
            self._cond.notify_all()
        self._fail(refused)

    def _record_all(self) -> None:
        while (item := self._outcomes.get()) is not _END:
            outcomes, committed = item
            try:
                if self._error is None:  # once recording failed, only drain: no sender may wait forever
                    self._record(outcomes)
            except BaseException as exc:
                with self._cond:
                    self._error = self._error or exc
                    self._cond.notify_all()
            finally:
                if committed is not None:
                    committed.set()
