"""A bounded, thread-safe byte stream: one thread writes, another reads it as a file.

The extract's COPY is written here by a background thread and parsed by pandas in the task's thread.
Through an OS pipe (64 KiB) PostgreSQL could only run about one read ahead of the parser: while the
parser's thread normalised, hashed and encoded a page, the COPY stood still, and then the parser
waited for it. With `max_bytes` of room (a few pages), the database streams the next pages while the
current one is processed.
"""

from __future__ import annotations

import queue
import threading


class Closed(Exception):
    """The reading side is gone: the writer stops (its COPY is abandoned)."""


class ByteBuffer:
    def __init__(self, max_bytes: int = 32 << 20, chunk_bytes: int = 1 << 20) -> None:
        self._chunk_bytes = chunk_bytes
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=max(1, max_bytes // chunk_bytes))
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._current = memoryview(b"")
        self._eof = False
        self._closed = threading.Event()

    # -- writing side ---------------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        """Queues `data`; blocks while the buffer is full. Raises Closed once the reader closed."""
        if self._closed.is_set():
            raise Closed
        self._pending.append(bytes(data))
        self._pending_size += len(data)
        if self._pending_size >= self._chunk_bytes:
            self._push(b"".join(self._pending))
            self._pending, self._pending_size = [], 0
        return len(data)

    def finish(self) -> None:
        """End of stream: what was written, then EOF. Called by the writer, also after a failure.

        Once the reader has closed there is no one to hand the rest to: it is dropped, without raising
        (the writer calls this in its `finally`, where a raise would end its thread with a traceback)."""
        if self._pending and not self._closed.is_set():
            self._push(b"".join(self._pending))
            self._pending, self._pending_size = [], 0
        self._push(None)

    def _push(self, item: bytes | None) -> None:
        while True:
            if self._closed.is_set():
                if item is None:
                    return
                raise Closed
            try:
                self._chunks.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    # -- reading side (a binary file for pandas) ------------------------------------------------
    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        while not self._current and not self._eof:
            chunk = self._chunks.get()
            if chunk is None:
                self._eof = True
            else:
                self._current = memoryview(chunk)
        out = bytes(self._current[:size])
        self._current = self._current[size:]
        return out

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """The reader is done (or gave up): a blocked or later write raises Closed."""
        self._closed.set()
        # Unblock a writer waiting for room, so it notices.
        while True:
            try:
                self._chunks.get_nowait()
            except queue.Empty:
                return

    @property
    def closed(self) -> bool:
        return self._closed.is_set()
