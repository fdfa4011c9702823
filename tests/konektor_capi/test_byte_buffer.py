import io
import threading
import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konektor_capi.byte_buffer import ByteBuffer, Closed

pytestmark = pytest.mark.unit


def _write_all(buffer: ByteBuffer, parts: list[bytes]) -> threading.Thread:
    def run():
        try:
            for part in parts:
                buffer.write(part)
        except Closed:
            pass
        finally:
            buffer.finish()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@settings(max_examples=50, deadline=None)
@given(
    parts=st.lists(st.binary(max_size=300), max_size=40),
    sizes=st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=5),
    chunk=st.integers(min_value=1, max_value=512),
)
def test_the_reader_gets_every_byte_in_order_whatever_the_read_sizes(parts, sizes, chunk):
    buffer = ByteBuffer(max_bytes=4 * chunk, chunk_bytes=chunk)
    writer = _write_all(buffer, parts)
    got = []
    i = 0
    while piece := buffer.read(sizes[i % len(sizes)]):
        assert len(piece) <= sizes[i % len(sizes)]
        got.append(piece)
        i += 1
    writer.join(timeout=5)
    assert b"".join(got) == b"".join(parts)
    assert buffer.read(10) == b""  # EOF stays EOF


def test_the_writer_waits_while_the_buffer_is_full():
    buffer = ByteBuffer(max_bytes=4, chunk_bytes=2)  # two chunks of room
    writer = _write_all(buffer, [b"ab", b"cd", b"ef", b"gh"])
    time.sleep(0.3)
    assert writer.is_alive()  # "ef" waits for room; "gh" is not written yet
    assert buffer.read(2) == b"ab"
    assert buffer.read(-1) == b"cdefgh"
    writer.join(timeout=5)
    assert not writer.is_alive()


def test_closing_the_reader_stops_a_blocked_writer():
    buffer = ByteBuffer(max_bytes=2, chunk_bytes=1)
    stopped = []

    def run():
        try:
            while True:
                buffer.write(b"x")
        except Closed:
            stopped.append(True)
        finally:
            buffer.finish()  # must not block either

    writer = threading.Thread(target=run, daemon=True)
    writer.start()
    time.sleep(0.2)
    buffer.close()
    writer.join(timeout=5)
    assert not writer.is_alive() and stopped == [True]
    with pytest.raises(Closed):
        buffer.write(b"late")


def test_pandas_parses_csv_from_it_in_chunks():
    frame = pd.DataFrame({"id": range(5000), "text": [f"row {i}, quoted" for i in range(5000)]})
    csv = frame.to_csv(index=False).encode()
    buffer = ByteBuffer(max_bytes=4096, chunk_bytes=1024)
    parts = [csv[i : i + 777] for i in range(0, len(csv), 777)]
    writer = _write_all(buffer, parts)

    chunks = list(pd.read_csv(buffer, chunksize=1000))

    writer.join(timeout=5)
    assert [len(c) for c in chunks] == [1000] * 5
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), pd.read_csv(io.BytesIO(csv)))


def test_finishing_after_the_reader_closed_drops_the_rest_quietly():
    buffer = ByteBuffer(max_bytes=4 << 20, chunk_bytes=1 << 20)
    buffer.write(b"part of a chunk, not yet handed over")
    buffer.close()

    buffer.finish()  # the writer's `finally`: must not raise

    with pytest.raises(Closed):
        buffer.write(b"more")
