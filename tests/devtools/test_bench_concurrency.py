"""The benchmark warns when other runs share the machine; its own Airflow run is not one of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from devtools import bench

pytestmark = pytest.mark.unit

SLEEPER = [sys.executable, "-c", "import time; time.sleep(30)", "devtools.bench"]  # looks like a bench


def _reported(pid: int) -> bool:
    return any(line.startswith(f"pid {pid}:") for line in bench.concurrent_runs())


def _wait_for_cmdline(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"devtools.bench" in f.read():
                return
        time.sleep(0.01)


def test_a_process_started_by_us_is_not_another_run():
    child = subprocess.Popen(SLEEPER)
    try:
        _wait_for_cmdline(child.pid)
        assert not _reported(child.pid)
    finally:
        child.kill()
        child.wait()


def test_a_process_that_is_not_ours_is_reported():
    # Its parent exits at once, so the sleeper is no descendant of this process.
    quiet = "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"
    spawn = f"import subprocess; print(subprocess.Popen({SLEEPER!r}, {quiet}).pid)"
    done = subprocess.run([sys.executable, "-c", spawn], capture_output=True, text=True, check=True)
    pid = int(done.stdout)
    try:
        _wait_for_cmdline(pid)
        assert _reported(pid)
    finally:
        os.kill(pid, signal.SIGKILL)
