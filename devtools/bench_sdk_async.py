"""The benchmark's second baseline: the SDK's `EventRequestAsync` in an asyncio loop, 8 requests in flight.

What a team would write to hide Meta's round trip with the official SDK: the same events as the
sequential baseline (bench_sdk: the same rows, objects, help and decisions), each full buffer of a
(pixel, WABA) becomes an `EventRequestAsync`, whose `get_params()` is the SDK's normalise, hash and
JSON, POSTed form-encoded (as the SDK does) over one aiohttp keep-alive session, at most IN_FLIGHT at
once. Not the SDK's own `execute()`: it opens a session per request, takes one process-wide token for
every pixel and posts to graph.facebook.com; nor its BatchProcessor, which awaits its "concurrent"
requests one by one. Everything runs in one thread, in the event loop, as in such an app: building
objects and normalising hold the loop while requests wait.

The time counted leaves out the extract (the rows are given, as to the sequential baseline).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator

import aiohttp
import pandas as pd
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request_async import EventRequestAsync

from devtools.bench_sdk import BATCH, SdkResult, _events

IN_FLIGHT = 8


class AsyncSdkSender:
    def __init__(self, base_url: str, tokens: dict[str, str], test_codes: dict[str, str | None],
                 api_version: str = "v25.0", in_flight: int = IN_FLIGHT) -> None:  # fmt: skip
        self.url = f"{base_url.rstrip('/')}/{api_version}/{{}}/events"
        self.tokens = tokens
        self.test_codes = test_codes
        self.in_flight = in_flight
        self.result = SdkResult()
        self.errors: dict[str, int] = defaultdict(int)
        self.extract_seconds = 0.0

    def run(self, pages: Iterator[pd.DataFrame]) -> dict:
        """Sends every row of `pages`; `seconds` is the whole time but the extract's."""
        started = time.perf_counter()
        asyncio.run(self._run(pages))
        seconds = time.perf_counter() - started - self.extract_seconds
        r = self.result
        return {"seconds": seconds, "events": r.events, "events_received": r.events_received,
                "requests": r.requests, "errors": dict(self.errors), "extract_seconds": self.extract_seconds,
                "in_flight": self.in_flight}  # fmt: skip

    async def _run(self, pages: Iterator[pd.DataFrame]) -> None:
        slots = asyncio.Semaphore(self.in_flight)
        buffers: dict[tuple[str, str], list[Event]] = defaultdict(list)
        tasks: set[asyncio.Task] = set()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.in_flight)) as session:

            async def launch(key: tuple[str, str]) -> None:
                await slots.acquire()
                task = asyncio.create_task(self._send(session, key, buffers.pop(key), slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                await asyncio.sleep(0)  # let it go out before building the next batch

            while True:
                given = time.perf_counter()
                rows = next(pages, None)
                self.extract_seconds += time.perf_counter() - given
                if rows is None:
                    break
                for key, event in _events(rows):
                    buffers[key].append(event)
                    if len(buffers[key]) == BATCH:
                        await launch(key)
            for key in [k for k, events in buffers.items() if events]:
                await launch(key)
            await asyncio.gather(*tasks)

    async def _send(self, session: aiohttp.ClientSession, key: tuple[str, str], events: list[Event],
                    slots: asyncio.Semaphore) -> None:  # fmt: skip
        pixel_id = key[0]
        try:
            request = EventRequestAsync(pixel_id=pixel_id, events=events,
                                        test_event_code=self.test_codes.get(pixel_id))  # fmt: skip
            params = request.get_params()
            params["access_token"] = self.tokens.get(pixel_id) or "bench-token"
            started = time.perf_counter()
            async with session.post(self.url.format(pixel_id), data=params) as response:
                payload = await response.json(content_type=None)
            self.result.http_seconds += time.perf_counter() - started
            self.result.requests += 1
            self.result.events += len(events)
            if response.status == 200:
                self.result.events_received += int(payload.get("events_received") or 0)
            else:
                error = payload.get("error") or {}
                self.errors[f"{error.get('code')}/{error.get('error_subcode')}"] += 1
        finally:
            slots.release()
