"""`make check-pixels` (konektor_capi_cli.check_pixels, as make runs it): real PostgreSQL, real emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GOOD, WRONG, EXPIRED, NO_TOKEN, DISABLED = (f"700000000000000{n}" for n in range(1, 6))
REFUSED = "FAILED  access token invalid or expired"
TOKENS = {GOOD: "EAAgoodSECRETtoken", WRONG: "EAAwrongSECRETtoken", EXPIRED: "EAAexpiredSECRETtoken"}


def check_pixels(db_uri: str, tmp_path: Path, graph_conn: str | None,
                 **env_extra: str) -> subprocess.CompletedProcess:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KONEKTOR_DEV"))}
    env.update({"AIRFLOW_CONN_KONEKTOR_DB": db_uri, "AIRFLOW_HOME": str(tmp_path / "airflow"), **env_extra})
    # this checkout's core, not whichever one the venv's editable install points at
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "plugins"), str(REPO)])
    if graph_conn:
        env["AIRFLOW_CONN_META_CAPI"] = graph_conn
    return subprocess.run([sys.executable, "-m", "devtools.run_dag", "check-pixels"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture
def pixels(konektor):
    ws = konektor.workspace(1)
    konektor.pixel(ws, GOOD, token=TOKENS[GOOD])
    konektor.pixel(ws, WRONG, token=TOKENS[WRONG])
    konektor.pixel(ws, EXPIRED, token=TOKENS[EXPIRED])
    konektor.pixel(ws, NO_TOKEN, token=None)
    konektor.pixel(ws, DISABLED, token="EAAdisabledSECRET", enabled=False)
    # the same pixel in another workspace with its own token: that workspace's events go with it
    konektor.pixel(konektor.workspace(2), GOOD, token="EAAsecondRowSECRET")


def assert_no_token(result: subprocess.CompletedProcess) -> None:
    for secret in (*TOKENS.values(), "EAAdisabledSECRET", "EAAsecondRowSECRET", "SECRET", "Bearer"):
        assert secret not in result.stdout and secret not in result.stderr


def test_prints_one_line_per_enabled_pixel_and_fails_when_one_fails(db_uri, tmp_path, emulator, meta, pixels):
    meta.register_pixels({GOOD: TOKENS[GOOD], EXPIRED: {"token": TOKENS[EXPIRED], "status": "expired"}})
    extra = {"api_version": "v25.0"}
    graph = json.dumps({"conn_type": "meta_capi", "host": emulator.base_url, "extra": extra})

    result = check_pixels(db_uri, tmp_path, graph)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"workspace 1  pixel {GOOD}  OK  Emulated pixel {GOOD}"
    # each workspace's row is checked with its own token
    assert lines[1].startswith(f"workspace 2  pixel {GOOD}  {REFUSED} (meta error 190")
    assert lines[2].startswith(f"workspace 1  pixel {WRONG}  {REFUSED} (meta error 190")
    assert lines[3].startswith(f"workspace 1  pixel {EXPIRED}  {REFUSED} (meta error 190/463")
    assert lines[4] == f"workspace 1  pixel {NO_TOKEN}  FAILED  no access token configured"
    assert len(lines) == 5  # the disabled pixel is not checked
    assert "1 OK, 4 FAILED" in result.stderr
    assert_no_token(result)
    assert meta.stats()["requests"] == 4  # one GET per row with a token, nothing sent


def test_exits_zero_when_every_pixel_passes(db_uri, tmp_path, emulator, meta, konektor):
    konektor.pixel(konektor.workspace(1), GOOD, token=TOKENS[GOOD])
    meta.register_pixels({GOOD: TOKENS[GOOD]})
    # the URI form: host and port, the scheme in the "schema" (path) part
    graph = f"meta-capi://{emulator.base_url.removeprefix('http://')}/http?api_version=v25.0"

    result = check_pixels(db_uri, tmp_path, graph)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"workspace 1  pixel {GOOD}  OK  Emulated pixel {GOOD}"]
    assert_no_token(result)


def test_a_token_no_header_can_carry_is_reported_and_the_next_pixel_checked(db_uri, tmp_path, emulator, meta,
                                                                             konektor):  # fmt: skip
    ws = konektor.workspace(1)
    konektor.pixel(ws, WRONG, token="EAAline\nbreakSECRET")  # pasted with a line break in the middle
    konektor.pixel(ws, EXPIRED, token="EAAdash\u2014SECRET")  # an em dash: not even Latin-1
    konektor.pixel(ws, GOOD, token=TOKENS[GOOD])
    meta.register_pixels({GOOD: TOKENS[GOOD]})
    graph = json.dumps({"conn_type": "meta_capi", "host": emulator.base_url})

    result = check_pixels(db_uri, tmp_path, graph)

    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        f"workspace 1  pixel {GOOD}  OK  Emulated pixel {GOOD}",
        f"workspace 1  pixel {WRONG}  FAILED  the token holds characters an HTTP header cannot carry",
        f"workspace 1  pixel {EXPIRED}  FAILED  the token holds characters an HTTP header cannot carry",
    ]
    assert "1 OK, 2 FAILED" in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_token(result)
    for part in ("EAAline", "breakSECRET", "EAAdash"):
        assert part not in result.stdout + result.stderr
    assert meta.stats()["requests"] == 1  # the unsendable tokens went nowhere


def test_a_configured_database_without_a_graph_connection_is_refused(db_uri, tmp_path, pixels):
    result = check_pixels(db_uri, tmp_path, None)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "AIRFLOW_CONN_KONEKTOR_DB is set but AIRFLOW_CONN_META_CAPI is not: refusing" in result.stderr
    assert_no_token(result)


def test_on_request_checks_a_configured_database_against_the_emulator(db_uri, tmp_path, pixels):
    result = check_pixels(db_uri, tmp_path, None, KONEKTOR_DEV_EMULATOR="1")

    assert result.returncode == 1  # the pixel without a token, and the emulator's one token a pixel
    assert result.stdout.splitlines()[:1] + result.stdout.splitlines()[2:] == [
        f"workspace 1  pixel {GOOD}  OK  Emulated pixel {GOOD}",
        f"workspace 1  pixel {WRONG}  OK  Emulated pixel {WRONG}",
        f"workspace 1  pixel {EXPIRED}  OK  Emulated pixel {EXPIRED}",
        f"workspace 1  pixel {NO_TOKEN}  FAILED  no access token configured",
    ]
    assert "KONEKTOR_DEV_EMULATOR=1" in result.stderr and "(the emulator)" in result.stderr
    assert_no_token(result)


def test_a_database_without_konektor_tables_is_reported(pg_server, tmp_path, emulator):
    result = check_pixels(pg_server, tmp_path, json.dumps({"conn_type": "http", "host": emulator.base_url}))
    assert result.returncode == 2
    assert "cannot read meta_pixels" in result.stderr and result.stdout == ""
