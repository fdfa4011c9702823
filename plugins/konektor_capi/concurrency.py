"""How a group's sync uses the machine: its one concurrency design, decided by the runner
(pipeline.sync_group) once per group and explained here.

A group's work is three chains that wait on different things:

    PostgreSQL --COPY CSV--> read-ahead buffer --> preparing --> queue --> delivering
                (extract's thread)                (CPU here)    (bounded)  (max_in_flight senders
                                                                            + one recorder)

1. Reading: psycopg2's COPY pushes a statement's whole output into a file-like object before it
   returns, so streaming it page by page takes a thread: the extract's COPY writes into a bounded
   buffer (tuning.READ_AHEAD_BYTES) that pandas' parser reads (extract.iter_changes). The database
   reads the next pages while this process prepares the current one; memory holds a few pages.
2. Preparing (prepare.prepare_page): parse, normalise, hash, validate, encode and batch, in Python and
   pandas, holding the GIL. It is the critical path at Meta's best; Meta's round trip is the limit
   otherwise.
3. Delivering (delivery.deliver): `max_in_flight` sender threads, each waiting on Meta, and one
   recorder thread writing each answer's outcomes into sync_logs as it arrives (concurrent_sender.py,
   in_flight.py). A worker takes its next batch only once its answer is committed: a kill loses at
   most `max_in_flight` answers, which the rerun resends with the same event ids.

What the runner decides (`Concurrency`):

- `delivery`: where the delivering chain runs. "thread": in this process, with preparing moved to a
  thread (prefetch.py). "process": a spawned child fed through a bounded queue (tuning.QUEUE_DEPTH),
  so delivery never waits for the GIL behind a pandas call of the preparing side: it pays when
  preparing is the limit (Meta answering fast, a large backlog), and costs CPU (every batch pickled
  across) and the child's memory. "auto" takes the child for a group of at least
  tuning.PROCESS_MIN_PAIRS pairs, whose start-up it repays, and never inside a daemonic process (a
  Celery or LocalExecutor pool worker may be one; it cannot have children).
- `fewer_collections`: during the group, the objects that existed before it are frozen out of garbage
  collection and the thresholds raised, in this process and the delivery child (gc_tuning.py); after
  each page the young generations are collected, because Great Expectations leaves reference cycles
  holding the page's blocks.

Each is kept because `make bench` shows it pays; what each buys and costs, measured, is in the
README's "What the speed tricks cost" and in docs/performance.md (`make bench BENCH_ARGS=--ablate`
measures them again).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from konektor_capi.delivery import can_start_processes
from konektor_capi.gc_tuning import collect_young, fewer_collections
from konektor_capi.tuning import PROCESS_MIN_PAIRS

DELIVERY_MODES = ("auto", "process", "thread")


@dataclass(frozen=True)
class Concurrency:
    delivery: str = "auto"
    fewer_collections: bool = True

    def __post_init__(self) -> None:
        if self.delivery not in DELIVERY_MODES:
            raise ValueError(f"delivery must be one of {', '.join(DELIVERY_MODES)}, not {self.delivery!r}")

    def delivers_in_child(self, pending: int) -> bool:
        if self.delivery == "auto":
            return pending >= PROCESS_MIN_PAIRS and can_start_processes()
        return self.delivery == "process"

    @contextlib.contextmanager
    def collections(self) -> Iterator[None]:
        """Around a group's sync (and the delivery child's life): fewer garbage collections, if chosen."""
        if not self.fewer_collections:
            yield
            return
        with fewer_collections():
            yield

    def after_page(self) -> None:
        if self.fewer_collections:
            collect_young()


DEFAULT_CONCURRENCY = Concurrency()
# The other choices `make bench-ablate` measures against the default, one at a time.
VARIANTS = {
    "child_process": Concurrency(delivery="process"),  # always, whatever the group's size
    "thread": Concurrency(delivery="thread"),  # never
    "default_gc": Concurrency(fewer_collections=False),
}
