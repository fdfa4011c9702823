"""The delivery child process does not outlive a task killed outright, whatever it is doing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

pytestmark = pytest.mark.integration

PARENT = textwrap.dedent(
    """
    import sys, time
    from konektor_capi.delivery import DeliveryProcess, DeliverySetup
    from konektor_capi.graph_client import GraphApiConfig

    if __name__ == "__main__":
        setup = DeliverySetup(sys.argv[1], GraphApiConfig(base_url=sys.argv[2]), {}, "orphan-test")
        child = DeliveryProcess(setup).__enter__()
        print(child._process.pid, flush=True)
        time.sleep(600)  # the task "hangs" here until it is killed
    """
)


def test_the_delivery_process_exits_when_its_task_is_killed(engine, emulator, tmp_path):
    script = tmp_path / "task.py"
    script.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    url = engine.url.render_as_string(hide_password=False)
    task = subprocess.Popen([sys.executable, str(script), url, emulator.base_url], stdout=subprocess.PIPE,
                            env=env, text=True)  # fmt: skip
    child = None
    try:
        child = psutil.Process(int(task.stdout.readline()))
        assert child.is_running()
        task.send_signal(signal.SIGKILL)  # no clean-up code of the task runs
        task.wait(timeout=10)
        child.wait(timeout=15)  # raises TimeoutExpired if the child lingers
    finally:
        if task.poll() is None:
            task.kill()
        if child is not None and child.is_running():
            child.kill()


BUSY_PARENT = textwrap.dedent(
    """
    import sys, time
    import orjson, pandas as pd
    from konektor_capi.delivery import DeliveryProcess, DeliverySetup, Send
    from konektor_capi.graph_client import GraphApiConfig
    from konektor_capi.payloads import EVENT_JSON
    from konektor_capi.sender import PixelTarget

    if __name__ == "__main__":
        pixel = sys.argv[3]
        event = {"event_name": "Lead", "event_time": int(time.time()), "event_id": "orphan-1",
                 "action_source": "system_generated", "user_data": {"external_id": "a" * 64}}
        batch = pd.DataFrame({EVENT_JSON: [orjson.dumps(event)],
                              "pixel_id": [pixel], "event_name": ["Lead"]})
        setup = DeliverySetup(sys.argv[1], GraphApiConfig(base_url=sys.argv[2]),
                              {1: PixelTarget(pixel, "tok-orphan")}, "orphan-test")
        child = DeliveryProcess(setup).__enter__()
        print(child._process.pid, flush=True)
        child.put(Send(1, batch))
        print("queued", flush=True)
        time.sleep(600)
    """
)


def test_the_delivery_process_exits_within_seconds_of_its_task_even_mid_request(engine, emulator, meta,
                                                                               tmp_path):  # fmt: skip
    pixel = "8200000000000001"
    meta.register_pixels({pixel: "tok-orphan"})
    meta.add_fault("slow", seconds=8)  # the child sits in this request when its task dies
    script = tmp_path / "busy_task.py"
    script.write_text(BUSY_PARENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    url = engine.url.render_as_string(hide_password=False)
    task = subprocess.Popen([sys.executable, str(script), url, emulator.base_url, pixel],
                            stdout=subprocess.PIPE, env=env, text=True)  # fmt: skip
    child = None
    try:
        child = psutil.Process(int(task.stdout.readline()))
        assert task.stdout.readline().strip() == "queued"
        time.sleep(1.5)  # the child has taken the batch and is waiting on Meta
        assert child.is_running()
        task.send_signal(signal.SIGKILL)
        task.wait(timeout=10)
        child.wait(timeout=4)  # well before Meta answers (8 s) or the read timeout (10 s)
    finally:
        if task.poll() is None:
            task.kill()
        if child is not None and child.is_running():
            child.kill()
        # the slow request lands after the child is gone: let it, before the next test resets Meta
        deadline = time.monotonic() + 15
        while not meta.events(pixel) and time.monotonic() < deadline:
            time.sleep(0.2)
