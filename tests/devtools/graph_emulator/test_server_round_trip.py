"""The emulator's round trip (Meta answers in 0.3-1.5 s) and its count of requests held at once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devtools.graph_emulator.process import EmulatorAdmin, EmulatorError, start_emulator
from tests.devtools.graph_emulator.test_server import PIXEL, TOKEN, assert_ok, make_event, send

pytestmark = pytest.mark.integration

ROUND_TRIP_MS, JITTER_MS = 200, 100


@pytest.fixture(scope="module")
def slow_emu():
    args = ["--round-trip-ms", str(ROUND_TRIP_MS), "--round-trip-jitter-ms", str(JITTER_MS), "--quiet"]
    with start_emulator(extra_args=args) as process:
        yield process


@pytest.fixture
def slow_admin(slow_emu):
    admin = EmulatorAdmin(slow_emu.base_url)
    admin.reset(pixels=True)
    admin.register_pixels({PIXEL: TOKEN})
    yield admin
    admin.close()


def _send_at_once(emu, n: int) -> list[requests.Response]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: send(emu, [make_event()], session=requests.Session()), range(n)))


def test_the_cli_round_trip_holds_every_answer_and_shows_in_the_config(slow_emu, slow_admin):
    config = slow_admin.config()
    assert (config["round_trip_ms"], config["round_trip_jitter_ms"]) == (ROUND_TRIP_MS, JITTER_MS)
    for _ in range(3):
        assert_ok(send(slow_emu, [make_event()]), 1)
    assert slow_admin.stats()["requests"] == 3
    # The emulator's own measure of the time it held the requests, not the test's clock. It adds a
    # request's time just after writing the answer: the last one may come in a moment later.
    deadline = time.monotonic() + 5
    while (held := slow_admin.stats()["handler_seconds"]) < 3 * ROUND_TRIP_MS / 1000:
        assert time.monotonic() < deadline, f"held {held}s for three requests of {ROUND_TRIP_MS} ms"
        time.sleep(0.05)
    assert held <= 3 * (ROUND_TRIP_MS + JITTER_MS + 200) / 1000


def test_requests_held_together_are_reported_as_the_peak_in_flight(slow_emu, slow_admin):
    for response in _send_at_once(slow_emu, 4):
        assert_ok(response, 1)
    assert slow_admin.stats()["peak_in_flight"] == 4
    slow_admin.reset()
    assert slow_admin.stats()["peak_in_flight"] == 0  # a reset starts the count again
    assert_ok(send(slow_emu, [make_event()]), 1)
    assert slow_admin.stats()["peak_in_flight"] == 1


def test_the_round_trip_changes_at_runtime_and_a_reset_restores_the_start_value(slow_emu, slow_admin):
    slow_admin.set_config(round_trip_ms=0, round_trip_jitter_ms=0)
    for _ in range(2):  # the first one's time is counted by the time the second is answered
        assert_ok(send(slow_emu, [make_event()]), 1)
    assert 0 < slow_admin.stats()["handler_seconds"] < ROUND_TRIP_MS / 1000
    with pytest.raises(EmulatorError):
        slow_admin.set_config(round_trip_ms=-1)
    slow_admin.reset()
    assert slow_admin.config()["round_trip_ms"] == ROUND_TRIP_MS
