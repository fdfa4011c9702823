"""A token registered by a task is masked in that task's log under `airflow dags test`.

There the task runs inside the CLI process, whose logging airflow-core set up without masking; the
worker's path (a supervisor masking what the task process sends) is tested in
tests/konektor_capi_airflow/test_hooks_masking.py.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from devtools import stack

pytestmark = pytest.mark.e2e

TOKEN = "EAAmaskProbe+Token/42xyz"

PROBE_DAG = textwrap.dedent(
    """
    import logging
    import os

    import pendulum
    import structlog
    from airflow.sdk import dag, task


    @dag(dag_id="konektor_mask_probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
    def konektor_mask_probe():
        @task
        def leak():
            from urllib.parse import quote_plus

            from konektor_capi_airflow.hooks import mask_secret

            token = os.environ["KONEKTOR_PROBE_TOKEN"]
            mask_secret(token)
            logging.getLogger("konektor_capi_airflow.tasks").info("probe-stdlib %s", token)
            logging.getLogger("konektor_capi.pipeline").warning("probe-encoded %s", quote_plus(token))
            structlog.get_logger("konektor_probe").info("probe-structlog %s", token)

        leak()


    konektor_mask_probe()
    """
)


def test_a_registered_token_is_masked_in_the_task_log(airflow_home, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "mask_probe.py").write_text(PROBE_DAG)
    env = stack.airflow_env({"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "KONEKTOR_PROBE_TOKEN": TOKEN})
    stack.ensure_airflow_db(env)
    done = subprocess.run(stack.airflow_cmd("dags", "test", "konektor_mask_probe"), env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    logs = done.stdout + done.stderr
    logs += "".join(p.read_text(errors="replace") for p in Path(airflow_home).rglob("*.log"))
    assert done.returncode == 0 and "state=success" in logs, logs[-3000:]
    for line in ("probe-stdlib ***", "probe-encoded ***", "probe-structlog ***"):
        assert line in logs
    assert TOKEN not in logs and quote_plus(TOKEN) not in logs
