"""`make check-pixels` (devtools/check_pixels.py) on a real PostgreSQL against the real emulator."""

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
TOKENS = {GOOD: "EAAgoodSECRETtoken", WRONG: "EAAwrongSECRETtoken", EXPIRED: "EAAexpiredSECRETtoken"}


def check_pixels(db_uri: str, tmp_path: Path, graph_conn: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_CONN_KONEKTOR_DB": db_uri, "AIRFLOW_HOME": str(tmp_path / "airflow")})
    if graph_conn:
        env["AIRFLOW_CONN_META_CAPI"] = graph_conn
    return subprocess.run([sys.executable, "-m", "devtools.check_pixels"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture
def pixels(konektor):
    ws = konektor.workspace(1)
    konektor.pixel(ws, GOOD, token=TOKENS[GOOD])
    konektor.pixel(ws, WRONG, token=TOKENS[WRONG])
    konektor.pixel(ws, EXPIRED, token=TOKENS[EXPIRED])
    konektor.pixel(ws, NO_TOKEN, token=None)
    konektor.pixel(ws, DISABLED, token="EAAdisabledSECRET", enabled=False)
    # the same pixel in a later workspace: the sync sends with the first row's token, so that is checked
    konektor.pixel(konektor.workspace(2), GOOD, token="EAAsecondRowSECRET")


def assert_no_token(result: subprocess.CompletedProcess) -> None:
    for secret in (*TOKENS.values(), "EAAdisabledSECRET", "EAAsecondRowSECRET", "SECRET"):
        assert secret not in result.stdout and secret not in result.stderr


def test_prints_one_line_per_enabled_pixel_and_fails_when_one_fails(db_uri, tmp_path, emulator, meta, pixels):
    meta.register_pixels({GOOD: TOKENS[GOOD], EXPIRED: {"token": TOKENS[EXPIRED], "status": "expired"}})
    extra = {"api_version": "v25.0"}
    graph = json.dumps({"conn_type": "meta_capi", "host": emulator.base_url, "extra": extra})

    result = check_pixels(db_uri, tmp_path, graph)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{GOOD}  OK  Emulated pixel {GOOD}"
    assert lines[1].startswith(f"{WRONG}  FAILED  access token invalid or expired (meta error 190")
    assert lines[2].startswith(f"{EXPIRED}  FAILED  access token invalid or expired (meta error 190/463")
    assert lines[3] == f"{NO_TOKEN}  FAILED  no access token configured"
    assert len(lines) == 4  # the disabled pixel is not checked
    assert "1 OK, 3 FAILED" in result.stderr
    assert_no_token(result)
    assert meta.stats()["requests"] == 3  # one GET per pixel with a token, nothing sent


def test_exits_zero_when_every_pixel_passes(db_uri, tmp_path, emulator, meta, konektor):
    konektor.pixel(konektor.workspace(1), GOOD, token=TOKENS[GOOD])
    meta.register_pixels({GOOD: TOKENS[GOOD]})
    # the URI form: host and port, the scheme in the "schema" (path) part
    graph = f"meta-capi://{emulator.base_url.removeprefix('http://')}/http?api_version=v25.0"

    result = check_pixels(db_uri, tmp_path, graph)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"{GOOD}  OK  Emulated pixel {GOOD}"]
    assert_no_token(result)


def test_without_a_graph_connection_checks_against_an_emulator_with_the_db_tokens(db_uri, tmp_path, pixels):
    result = check_pixels(db_uri, tmp_path, None)

    assert result.returncode == 1  # the pixel without a token
    assert result.stdout.splitlines() == [
        f"{GOOD}  OK  Emulated pixel {GOOD}",
        f"{WRONG}  OK  Emulated pixel {WRONG}",
        f"{EXPIRED}  OK  Emulated pixel {EXPIRED}",
        f"{NO_TOKEN}  FAILED  no access token configured",
    ]
    assert "(the emulator)" in result.stderr
    assert_no_token(result)


def test_a_database_without_konektor_tables_is_reported(pg_server, tmp_path):
    result = check_pixels(pg_server, tmp_path, None)
    assert result.returncode == 2
    assert "cannot read meta_pixels" in result.stderr and result.stdout == ""
