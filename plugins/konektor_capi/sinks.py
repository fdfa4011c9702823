"""Where a group's prepared pages go: to Meta and sync_logs (`DeliverySink`), or only into counts
(`DryRunSink`). The runner picks one per group; preparing (prepare.py) is the same for both."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import pandas as pd
import sqlalchemy as sa

from konektor_capi.delivery import (
    DeliverySetup,
    Send,
    Skip,
    can_start_processes,
    deliver_in_process,
    deliver_in_thread,
)
from konektor_capi.graph_client import GraphApiClient
from konektor_capi.outcomes import SKIPPED
from konektor_capi.prepare import PreparedPage
from konektor_capi.tuning import PROCESS_MIN_PAIRS


class Sink(Protocol):
    def consume(self, pages: Iterable[PreparedPage], result) -> None:
        """Takes every page of a group and puts its counts into `result` (a pipeline.GroupResult)."""


@dataclass
class DeliverySink:
    """Sends each batch and records every outcome, in a child process or a thread (delivery.py):
    "auto" takes the child process for groups of at least PROCESS_MIN_PAIRS pairs, where it repays
    its start-up."""

    engine: sa.Engine
    client: GraphApiClient
    setup: DeliverySetup
    delivery: str = "auto"
    pending: int = 0

    def consume(self, pages: Iterable[PreparedPage], result) -> None:
        work = _items(pages)
        if self.delivery == "process" or (self.delivery == "auto" and self.pending >= PROCESS_MIN_PAIRS
                                          and can_start_processes()):  # fmt: skip
            done = deliver_in_process(work, self.setup)
        else:
            done = deliver_in_thread(work, self.setup, self.engine, self.client)
        result.counts, result.reasons, result.failures = done.counts, done.reasons, done.failures
        result.requests, result.delivery_seconds = done.requests, done.seconds
        result.peak_in_flight, result.throttled = done.peak_in_flight, done.throttled
        result.lowest_limit = done.lowest_limit


class DryRunSink:
    """Sends and records nothing: counts what would be skipped (and why) and what would be sent."""

    def consume(self, pages: Iterable[PreparedPage], result) -> None:
        for page in pages:
            for skip in page.skips:
                outcomes = skip.outcomes
                if isinstance(outcomes.reason, str):
                    result.reasons[outcomes.reason] += len(outcomes.events)
                else:
                    result.reasons.update(outcomes.reason.tolist())
                result.counts.update(_keys(outcomes.events, SKIPPED))
            ready = page.ready
            if ready is not None:
                result.would_send.update(zip(ready["pixel_id"], ready["event_name"], ready["action_source"],
                                             strict=True))  # fmt: skip


def _items(pages: Iterable[PreparedPage]) -> Iterator[Skip | Send]:
    for page in pages:
        yield from page.skips
        yield from page.batches


def _keys(events: pd.DataFrame, status: str) -> Counter:
    return Counter(
        zip(events["pixel_id"], events["event_name"].fillna("-"), [status] * len(events), strict=True)
    )
