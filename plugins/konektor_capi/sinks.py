"""Where a group's prepared pages go: to Meta and sync_logs (`DeliverySink`), or only into counts
(`DryRunSink`). The runner picks one per group; preparing (prepare.py) is the same for both."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from konektor_capi.delivery import (
    DeliverySetup,
    Send,
    Skip,
    deliver_in_process,
    deliver_in_thread,
)
from konektor_capi.graph_client import GraphApiClient
from konektor_capi.prepare import PreparedPage


class Sink(Protocol):
    def consume(self, pages: Iterable[PreparedPage], result) -> None:
        """Takes every page of a group and puts its counts into `result` (a pipeline.GroupResult)."""


@dataclass
class DeliverySink:
    """Sends each batch and records every outcome, in a child process or in this one (the runner's
    choice: concurrency.py)."""

    engine: sa.Engine
    client: GraphApiClient
    setup: DeliverySetup
    in_child: bool = False

    def consume(self, pages: Iterable[PreparedPage], result) -> None:
        work = _items(pages)
        if self.in_child:
            done = deliver_in_process(work, self.setup)
        else:
            done = deliver_in_thread(work, self.setup, self.engine, self.client)
        result.counts = done.counts
        result.requests, result.delivery_seconds = done.requests, done.seconds
        result.peak_in_flight, result.throttled = done.peak_in_flight, done.throttled
        result.lowest_limit = done.lowest_limit


class DryRunSink:
    """Sends and records nothing: counts what would be skipped (and why) and what would be sent."""

    def consume(self, pages: Iterable[PreparedPage], result) -> None:
        for page in pages:
            for skip in page.skips:
                result.counts.add(skip.outcomes)
            if page.ready is not None:
                result.counts.add_would_send(page.ready)


def _items(pages: Iterable[PreparedPage]) -> Iterator[Skip | Send]:
    for page in pages:
        yield from page.skips
        yield from page.batches
