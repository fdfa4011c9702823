"""The emulator's `echo_token` fault: a server that repeats the request's token, for scrubbing tests."""

from __future__ import annotations

import json
import time
from urllib.parse import quote, quote_plus

import pytest
import requests

from devtools.graph_emulator.process import EmulatorAdmin, start_emulator

pytestmark = pytest.mark.integration

PIXEL = "8100000000000001"
TOKEN = 'tok-echo+SECRET/"x" 1'
EVENT = {"event_name": "Lead", "action_source": "system_generated",
         "user_data": {"external_id": ["a" * 64]}}  # fmt: skip


@pytest.fixture(scope="module")
def emu():
    with start_emulator() as process:
        yield process


@pytest.fixture
def admin(emu):
    admin = EmulatorAdmin(emu.base_url)
    admin.reset(pixels=True)
    admin.register_pixels({PIXEL: TOKEN})
    return admin


def post(emu, n: int = 2) -> requests.Response:
    events = [{**EVENT, "event_time": int(time.time()) - 60, "event_id": f"e{i}"} for i in range(n)]
    body = json.dumps({"data": events, "access_token": TOKEN})
    return requests.post(f"{emu.base_url}/v25.0/{PIXEL}/events", data=body, timeout=10,
                         headers={"Content-Type": "application/json"})  # fmt: skip


FORMS = [TOKEN, quote(TOKEN, safe=""), quote_plus(TOKEN, safe=""), json.dumps(TOKEN)[1:-1]]


def test_partial_echoes_every_form_and_still_records(emu, admin):
    admin.add_fault("echo_token")
    answer = post(emu)
    body = answer.json()
    assert answer.status_code == 200 and body["events_received"] == 1
    assert body["messages"] == [f"access_token={form}" for form in FORMS]
    assert body["fbtrace_id"] == TOKEN
    assert admin.stats()["accepted_distinct"] == 2


def test_error_pads_and_is_not_processed(emu, admin):
    admin.add_fault("echo_token", answer="error", forms=["quote_plus"], pad=3)
    error = post(emu).json()["error"]
    assert error["code"] == 190
    assert error["message"] == f"Invalid OAuth access token: xxxaccess_token={quote_plus(TOKEN, safe='')}"
    assert error["fbtrace_id"] == TOKEN
    assert admin.stats()["accepted_distinct"] == 0
