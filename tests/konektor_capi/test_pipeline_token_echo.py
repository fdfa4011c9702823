"""A Graph API that echoes the token (raw, URL-encoded, JSON-escaped, cut) leaks nothing we keep."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from tests.fixtures import sync_once

pytestmark = pytest.mark.integration

PIXEL, OTHER = "6100000000000001", "6100000000000002"
# Characters that URL-encoding and JSON-escaping change, so every echoed form differs from the raw one.
TOKEN = 'EAAechoTok+en/"quoted" \\ä9zz'
OTHER_TOKEN = "EAAotherEchoToken42"


def spellings(token: str) -> set[str]:
    forms = {token, quote(token, safe=""), quote(token), quote_plus(token), json.dumps(token)[1:-1],
             json.dumps(token, ensure_ascii=False)[1:-1]}  # fmt: skip
    return forms | {form[:8] for form in forms}  # the shortest fragment a cut may leave


@pytest.fixture
def echoing(konektor, meta):
    ws = konektor.workspace(1)
    konektor.pixel(ws, PIXEL, token=TOKEN)
    konektor.pixel(ws, OTHER, token=OTHER_TOKEN)
    meta.register_pixels({PIXEL: TOKEN, OTHER: OTHER_TOKEN})
    for i in range(3):
        konektor.change(konektor.lead(ws, email=f"echo{i}@example.com"), "new")
    return ws


def everything_kept(konektor, summary: dict) -> str:
    rows = konektor.execute("SELECT * FROM sync_logs")
    runs = konektor.execute("SELECT * FROM sync_runs")
    groups = konektor.execute("SELECT * FROM sync_run_groups")
    # what the sync task logs, returns to XCom and raises: the group's result, its summary of failures
    results = [(g, g.to_dict(), g.failure_summary()) for g in summary["groups"]]
    return " ".join(map(repr, [rows, runs, groups, summary, results]))


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ({"kind": "echo_token"}, "partial_failure"),
        # the client cuts Meta's error message at 500 characters: this cut lands 10 characters into
        # the first echoed token
        (
            {
                "kind": "echo_token",
                "answer": "error",
                "pad": 500 - len("Invalid OAuth access token: ") - len("access_token=") - 10,
            },
            "failed",
        ),  # fmt: skip
    ],
    ids=["partial", "error-cut-by-the-client"],
)
def test_no_form_of_the_token_is_kept(engine, client, konektor, meta, echoing, fault, status):
    meta.add_faults([{**fault, "pixel_id": PIXEL}])
    summary = sync_once(engine, client)

    rows = [r for r in konektor.sync_logs() if r["pixel_id"] == PIXEL]
    assert {r["status"] for r in rows} == {status} and len(rows) == 3
    assert all("***" in r["reason"] for r in rows)  # Meta's text is kept, the token is masked
    assert all(r["fbtrace_id"] == "***" for r in rows)
    kept = everything_kept(konektor, summary)
    for spelled in spellings(TOKEN):
        assert spelled not in kept, spelled
    assert {r["status"] for r in konektor.sync_logs() if r["pixel_id"] == OTHER} == {"accepted"}


def test_a_token_prefix_left_by_metas_own_cut_is_masked(engine, client, konektor, meta, echoing):
    # Meta (or a proxy) truncated its message: only the token's first 12 characters arrive.
    meta.add_faults([{"kind": "partial", "pixel_id": PIXEL, "messages": [f"bad field near {TOKEN[:12]}"]}])
    sync_once(engine, client)
    reasons = {r["reason"] for r in konektor.sync_logs() if r["pixel_id"] == PIXEL}
    assert reasons == {"meta took 2 of 3 events; bad field near ***"}
