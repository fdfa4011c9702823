"""The real DAG, through Airflow, against each fault the emulator can inject."""

from __future__ import annotations

import json
import re
import time

import pytest

from devtools import run_dag
from devtools.graph_emulator.process import EmulatorAdmin
from tests.factory import Konektor

pytestmark = pytest.mark.e2e

FAULTY, OTHER = "7000000000000001", "7000000000000002"
N = 30


def fast_graph_conn(base_url: str) -> str:
    extra = {"api_version": "v25.0", "read_timeout": 0.5, "backoff_base": 0.05, "backoff_cap": 0.2}
    return json.dumps({"conn_type": "http", "host": base_url, "extra": extra})


# fault rule for the FAULTY pixel -> (its statuses, DAG run succeeds?)
CASES = {
    "token_expired": ({"kind": "token_expired"}, {"failed": N}, False),
    "permission": ({"kind": "permission"}, {"failed": N}, False),
    "throttle": ({"kind": "throttle", "code": 17, "subcode": 2446079, "times": 2, "retry_after": 1},
                 {"accepted": N}, True),
    "transient": ({"kind": "transient", "code": 2, "times": 2}, {"accepted": N}, True),
    "http_503": ({"kind": "http_503", "times": 1}, {"accepted": N}, True),
    "slow": ({"kind": "slow", "seconds": 1.5, "times": 1}, {"accepted": N}, True),
    "reject_event": ({"kind": "reject_event", "event_id": "web-bad-one"},
                     {"accepted": N - 1, "failed": 1}, False),
    "drop_after_accept": ({"kind": "drop_after_accept", "times": 1}, {"accepted": N}, True),
    "partial": ({"kind": "partial", "messages": ["fbc was malformed"]}, {"partial_failure": N}, True),
}  # fmt: skip


@pytest.fixture(scope="module")
def emulator():
    from devtools.graph_emulator.process import start_emulator

    with start_emulator() as emu:
        yield emu


@pytest.mark.parametrize("case", list(CASES))
def test_dag_run_under_fault(case, db_uri, airflow_home, emulator):
    rule, expected, succeeds = CASES[case]
    meta = EmulatorAdmin(emulator.base_url)
    meta.reset(pixels=True)
    k = Konektor(db_uri)
    ws = k.workspace(1)
    k.pixel(ws, FAULTY, token="EAAfaultyPixelToken")
    k.pixel(ws, OTHER, token="EAAotherPixelToken")
    meta.register_pixels({FAULTY: "EAAfaultyPixelToken", OTHER: "EAAotherPixelToken"})
    for i in range(N):
        lead = k.lead(ws, email=f"lead{i}@example.com")
        k.change(lead, "new", event_id="web-bad-one" if i == 7 else None)
    meta.add_faults([{**rule, "pixel_id": FAULTY}])

    run = run_dag.dag_test(db_uri, fast_graph_conn(emulator.base_url))
    code, log = run.code, run.log_path.read_text(errors="replace")

    by_pixel: dict[str, dict[str, int]] = {}
    for row in k.sync_logs():
        counts = by_pixel.setdefault(row["pixel_id"], {})
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    assert by_pixel[FAULTY] == expected
    assert by_pixel[OTHER] == {"accepted": N}  # the other pixel never suffers
    assert (code == 0) is succeeds
    stats = meta.stats()
    deadline = time.monotonic() + 10
    while case == "slow" and stats["duplicates"] < N and time.monotonic() < deadline:
        # the timed-out first attempt is still sleeping in the emulator when the run ends
        time.sleep(0.1)
        stats = meta.stats()
    if case in ("drop_after_accept", "slow"):
        # Meta took the batch but the answer was lost (dropped, or past our timeout): that batch, and
        # nothing else, went twice with the same event ids, so Meta deduplicated it.
        assert stats["duplicates"] == N
    else:
        assert stats["duplicates"] == 0
    if case in RETRIED:  # each retry is in the task log with Meta's reason and the wait
        assert RETRIED[case] in log and "retry 1 of 5 in" in log and "retry 2 of 5 in" in log
    assert "EAAfaultyPixelToken" not in log
    # What an operator reads: each sync task's outcome as a table, without Great Expectations' INFO chatter.
    assert "workspace 1: " in log and re.search(
        r"pixel +event +accepted +partial_failure +failed +skipped", log
    )
    assert not [line for line in log.splitlines() if "[info" in line and "great_expectations" in line]
    k.close()


RETRIED = {
    "throttle": f"pixel {FAULTY}: meta error 17/2446079: ",
    "transient": f"pixel {FAULTY}: meta error 2: ",
}
