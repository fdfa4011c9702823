"""Delivering a group's work: send its batches to Meta, several at a time, and record each outcome.

`deliver` keeps up to `max_in_flight` requests out and records each answer as it arrives
(concurrent_sender.py, in_flight.py), so a crash loses at most the outcomes of the batches in flight,
which the rerun resends with the same event ids. It runs in a child process (`deliver_in_process`,
fed through a bounded queue) or in the task's process (`deliver_in_thread`): the runner's choice,
explained in concurrency.py.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import pandas as pd

from konektor_capi.concurrent_sender import ConcurrentSender
from konektor_capi.gc_tuning import fewer_collections
from konektor_capi.graph_client import GraphApiClient, GraphApiConfig, SendResult
from konektor_capi.in_flight import AdaptiveLimit, Gate
from konektor_capi.outcome_counts import OutcomeCounts
from konektor_capi.outcomes import KEY_COLUMNS, Outcomes
from konektor_capi.payloads import EVENT_JSON
from konektor_capi.prefetch import prefetch
from konektor_capi.recording import OutcomeRecorder
from konektor_capi.scrub import scrub
from konektor_capi.send_window import cut_expired
from konektor_capi.sender import PixelSender, PixelTarget
from konektor_capi.tuning import QUEUE_DEPTH

# What delivering a batch reads of its events: the encoded event, and the keys its sync_logs rows
# record (event_time also for the send-time 7-day cut). Only these cross the process boundary; a skip,
# never sent, leaves out the encoded event (a page's skips of a pixel without a token: ~10 MB of JSON
# for nothing).
RECORD_COLUMNS = list(KEY_COLUMNS)
DELIVERY_COLUMNS = [*RECORD_COLUMNS, EVENT_JSON]


@dataclass(frozen=True)
class Skip:
    outcomes: Outcomes


@dataclass(frozen=True)
class Send:
    pixel_key: int
    batch: pd.DataFrame


def slim(events: pd.DataFrame, columns: list[str] = DELIVERY_COLUMNS) -> pd.DataFrame:
    return events.loc[:, [c for c in columns if c in events]]


@dataclass
class DeliveryResult:
    counts: OutcomeCounts = field(default_factory=OutcomeCounts)  # of what was recorded
    requests: int = 0
    # http, record (summed over threads), idle (waiting for prepared batches): where delivery's time went
    seconds: dict[str, float] = field(default_factory=dict)
    peak_in_flight: int = 0  # the most requests out at once
    throttled: int = 0  # answers that were Meta's throttling
    lowest_limit: int = 0  # the fewest requests in flight throttling allowed


@dataclass(frozen=True)
class DeliverySetup:
    """Everything the delivering side needs: picklable, sent to the child process once."""

    db_url: str
    graph: GraphApiConfig
    targets: dict[int, PixelTarget]
    run_id: str
    clock: Callable[[], float] = time.time  # what "now" is at send time (Meta's 7-day window)
    fewer_collections: bool = True  # concurrency.Concurrency's choice, for the child's life


class _Clock:
    def __init__(self) -> None:
        self.seconds: Counter = Counter()
        self._lock = threading.Lock()

    def timed(self, name: str, func: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                with self._lock:
                    self.seconds[name] += elapsed

        return wrapper

    def waited(self, items: Iterator) -> Iterator:
        while True:
            started = time.perf_counter()
            item = next(items, None)
            self.seconds["idle"] += time.perf_counter() - started
            if item is None:
                return
            yield item


def deliver(items: Iterable[Skip | Send], setup: DeliverySetup, engine, client) -> DeliveryResult:
    """Sends and records every item; the calling thread hands them over in order."""
    clock = _Clock()
    gate = Gate(AdaptiveLimit(setup.graph.max_in_flight))
    with OutcomeRecorder(engine) as recorder:
        # One sender per request in flight: a kill loses at most their answers (docs/performance.md
        # has what twice as many would buy and cost).
        workers = setup.graph.max_in_flight
        with ConcurrentSender(clock.timed("record", recorder.record), workers) as pool:
            timed_client = _GatedClient(client, gate, clock)
            senders = {key: PixelSender(timed_client, target, _as_sent(pool.record_answer, target),
                                        setup.run_id) for key, target in setup.targets.items()}  # fmt: skip
            for item in clock.waited(iter(items)):
                if isinstance(item, Skip):
                    pool.record(item.outcomes)
                    continue
                batch, late = cut_expired(item.batch, setup.clock(), setup.run_id)
                if late is not None:
                    pool.record(late)
                if len(batch):
                    pool.send(senders[item.pixel_key], batch)
            pool.finish()
        return DeliveryResult(recorder.counts, sum(s.requests for s in senders.values()),
                              {k: round(v, 3) for k, v in clock.seconds.items()},
                              gate.peak, gate.throttled, gate.lowest)  # fmt: skip


def _as_sent(record: Callable[[Outcomes], None], target: PixelTarget) -> Callable[[Outcomes], None]:
    """Records a pixel's outcomes with the test code its events went with: a test send is not final."""
    if not target.test_event_code:
        return record
    code = target.test_event_code
    return lambda outcomes: record(replace(outcomes, test_event_code=code))


class _GatedClient:
    """The client as PixelSender sees it: every attempt through the task's gate, its time on the clock."""

    def __init__(self, client: GraphApiClient, gate: Gate, clock: _Clock) -> None:
        def send(pixel_id: str, body: bytes, secret: str | None = None) -> SendResult:
            return client.send(pixel_id, body, secret=secret, gate=gate)

        self.send: Callable[..., SendResult] = clock.timed("http", send)


def deliver_in_thread(work: Iterator, setup: DeliverySetup, engine, client) -> DeliveryResult:
    """Preparing in a background thread, delivering in this one: one process."""
    return deliver(prefetch(work, depth=QUEUE_DEPTH, name="prepare"), setup, engine, client)


def can_start_processes() -> bool:
    """False inside a daemonic process (a Celery or LocalExecutor pool worker may run the task in
    one), where multiprocessing refuses to start children: delivery then runs in a thread."""
    return not multiprocessing.current_process().daemon


def deliver_in_process(work: Iterator, setup: DeliverySetup) -> DeliveryResult:
    """Preparing in this process, delivering in a child process."""
    with DeliveryProcess(setup) as child:
        for item in work:
            child.put(item)
        return child.finish()


class DeliveryFailed(RuntimeError):
    """The delivery process raised; its traceback (tokens scrubbed) is the message."""


class DeliveryAborted(RuntimeError):
    """The task's side failed: the delivery process stops after the batches in flight."""


class DeliveryProcess:
    def __init__(self, setup: DeliverySetup, depth: int = QUEUE_DEPTH) -> None:
        # spawn, not fork: the task's process has threads (Airflow's, the extract's), and a forked
        # child would inherit their locks mid-use.
        context = multiprocessing.get_context("spawn")
        self._inbox = context.Queue(maxsize=depth)
        self._outbox = context.Queue()
        self._abort = context.Event()
        self._process = context.Process(
            target=_child_main,
            args=(setup, self._inbox, self._outbox, self._abort),
            name="konektor-capi-delivery",
            daemon=True,
        )

    def __enter__(self) -> DeliveryProcess:
        self._process.start()
        return self

    def put(self, item: Skip | Send) -> None:
        while True:
            try:
                self._inbox.put(item, timeout=0.5)
                return
            except queue.Full:
                self._check_alive()

    def finish(self) -> DeliveryResult:
        self.put(None)  # type: ignore[arg-type]
        while True:
            try:
                kind, payload = self._outbox.get(timeout=0.5)
                break
            except queue.Empty:
                self._check_alive()
        self._process.join()
        if kind == "error":
            raise DeliveryFailed(payload)
        return payload

    def _check_alive(self) -> None:
        if self._process.is_alive():
            return
        try:
            kind, payload = self._outbox.get(timeout=1)
        except queue.Empty:
            raise DeliveryFailed(f"delivery process exited with code {self._process.exitcode}") from None
        raise DeliveryFailed(payload if kind == "error" else "delivery process stopped early")

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None and self._process.is_alive():
            # Stop after the batches in flight: queued batches were never sent, so nothing is lost.
            self._abort.set()
            self._process.join(timeout=60)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._inbox.cancel_join_thread()


# Exit status of a delivery child whose task died under it.
ORPHANED = 70


def _exit_with(parent) -> None:
    """Ends this process the moment `parent` dies, whatever the main thread is blocked on (a request
    to Meta, a COPY, half a pickled batch on the queue pipe). Nothing is lost: an uncommitted COPY is
    rolled back by PostgreSQL when the socket closes, and the rerun resends that batch with the same
    event ids, which Meta deduplicates."""

    def watch() -> None:
        parent.join()  # waits on the parent's sentinel: wakes as soon as the parent is gone
        os._exit(ORPHANED)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child_main(setup: DeliverySetup, inbox, outbox, abort) -> None:
    from konektor_capi.db import make_engine

    # A spawned child has no logging set up; its stderr is the task's, which Airflow puts in the task log.
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    parent = multiprocessing.parent_process()
    if parent is not None:
        _exit_with(parent)
    engine = make_engine(setup.db_url)
    client = GraphApiClient(setup.graph)

    def items() -> Iterator:
        while not abort.is_set():
            try:
                item = inbox.get(timeout=1)
            except queue.Empty:  # a task killed outright never sends the end: see _exit_with
                continue
            if abort.is_set():
                raise DeliveryAborted("the task stopped: batches not yet sent are left to the rerun")
            if item is None:
                return
            yield item

    try:
        with fewer_collections() if setup.fewer_collections else contextlib.nullcontext():
            outbox.put(("done", deliver(items(), setup, engine, client)))
    except BaseException:
        text = scrub(traceback.format_exc(), [t.access_token for t in setup.targets.values()])
        outbox.put(("error", text))
    finally:
        client.close()
        engine.dispose()
