"""The delivery child process does not outlive a task killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil

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
