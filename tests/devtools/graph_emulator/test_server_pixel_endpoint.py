"""The emulator's read endpoint `GET /{version}/{pixel_id}`: what a token check calls."""

from __future__ import annotations

import time

import pytest
import requests

from devtools.graph_emulator.process import EmulatorAdmin, EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

PIXEL = "1111111111"
TOKEN = "tok-read-1111-SECRET"
PIXEL2 = "2222222222"
TOKEN2 = "tok-read-2222-SECRET"


@pytest.fixture(scope="module")
def emu():
    with start_emulator() as process:
        yield process


@pytest.fixture
def admin(emu: EmulatorProcess):
    client = EmulatorAdmin(emu.base_url)
    client.reset(pixels=True)
    client.register_pixels(
        {
            PIXEL: TOKEN,
            PIXEL2: TOKEN2,
            "3333333333": {"token": "tok-expired-SECRET", "status": "expired"},
            "4444444444": {"token": "tok-invalidated-SECRET", "status": "invalidated"},
            "5555555555": {"token": "tok-noperm-SECRET", "status": "no_permission"},
        }
    )
    yield client
    client.close()


def read(emu: EmulatorProcess, pixel: str, token: str | None, via: str = "header", **params: str):
    headers = {"Authorization": f"Bearer {token}"} if token and via == "header" else {}
    if token and via == "query":
        params["access_token"] = token
    return requests.get(f"{emu.base_url}/v25.0/{pixel}", headers=headers, params=params, timeout=10)


def error_of(r: requests.Response) -> tuple[int, int | None]:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    return err["code"], err.get("error_subcode")


@pytest.mark.parametrize("via", ["header", "query"])
def test_registered_pixel_with_its_token_reads_id_and_name(emu, admin, via: str) -> None:
    r = read(emu, PIXEL, TOKEN, via=via, fields="id,name")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": PIXEL, "name": f"Emulated pixel {PIXEL}"}
    assert r.headers["x-fb-trace-id"]


def test_fields_default_and_subset(emu, admin) -> None:
    assert read(emu, PIXEL, TOKEN).json() == {"id": PIXEL, "name": f"Emulated pixel {PIXEL}"}
    assert read(emu, PIXEL, TOKEN, fields="id").json() == {"id": PIXEL}
    assert error_of(read(emu, PIXEL, TOKEN, fields="id,owner_business")) == (100, None)


def test_missing_or_unknown_token_is_190(emu, admin) -> None:
    assert error_of(read(emu, PIXEL, None)) == (190, None)
    assert error_of(read(emu, PIXEL, "not-a-token")) == (190, None)


def test_unknown_pixel_or_another_pixels_token_is_100_33(emu, admin) -> None:
    code = error_of(read(emu, "9999999999", TOKEN))
    assert code == (100, 33)
    assert read(emu, "9999999999", TOKEN).json()["error"]["message"].startswith("Unsupported get request")
    assert error_of(read(emu, PIXEL2, TOKEN)) == (100, 33)


@pytest.mark.parametrize(
    ("pixel", "token", "expected"),
    [
        ("3333333333", "tok-expired-SECRET", (190, 463)),
        ("4444444444", "tok-invalidated-SECRET", (190, 460)),
        ("5555555555", "tok-noperm-SECRET", (200, None)),
    ],
)
def test_pixel_status_is_honoured(emu, admin, pixel: str, token: str, expected) -> None:
    assert error_of(read(emu, pixel, token)) == expected


def test_events_path_and_post_keep_their_answers(emu, admin) -> None:
    r = requests.get(f"{emu.base_url}/v25.0/{PIXEL}/events", headers={"Authorization": f"Bearer {TOKEN}"},
                     timeout=10)  # fmt: skip
    assert error_of(r) == (2500, None)
    r = requests.post(f"{emu.base_url}/v25.0/{PIXEL}", json={"access_token": TOKEN}, timeout=10)
    assert error_of(r) == (2500, None)


def test_reads_are_counted_but_faults_and_event_counters_are_untouched(emu, admin) -> None:
    admin.add_fault("token_expired", pixel_id=PIXEL, times=1)
    assert read(emu, PIXEL, TOKEN).status_code == 200
    stats = admin.stats()
    assert stats["requests"] == 1 and stats["requests_by_status"] == {"200": 1}
    assert stats["per_pixel"] == {} and stats["events_received"] == 0
    assert admin.faults()[0]["applied"] == 0


def test_token_never_in_access_log(emu, admin) -> None:
    read(emu, PIXEL, TOKEN, via="query")
    read(emu, PIXEL, TOKEN2, via="header")
    lines = (f'"GET /v25.0/{PIXEL}" 200', f'"GET /v25.0/{PIXEL}" 400')
    deadline = time.monotonic() + 5
    while not all(line in (log := emu.read_log()) for line in lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(line in log for line in lines)
    assert TOKEN not in log and TOKEN2 not in log


def test_accept_any_token_reads_any_numeric_pixel() -> None:
    with start_emulator(extra_args=["--accept-any-token", "--quiet"]) as emu:
        assert read(emu, "123456", "whatever").json() == {"id": "123456", "name": "Emulated pixel 123456"}
        assert error_of(read(emu, "act_1", "whatever")) == (100, 33)
        assert error_of(read(emu, "123456", None)) == (190, None)
