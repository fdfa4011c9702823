"""Under a worker, the supervisor writes the task's log: it must learn every spelling of a token.

The task process registers a token with `hooks.mask_secret`; the Task SDK sends each registration to
the supervisor as a MaskSecret message, and the supervisor writes the task log file through
`airflow.sdk.log.logging_processors` (as `supervisor._configure_logging` does). Both halves run here
in one process, with the masker emptied in between, so only what the messages carried can mask.
"""

from __future__ import annotations

import io
import json
from urllib.parse import quote, quote_plus

import pytest
import structlog

pytestmark = pytest.mark.unit

TOKEN = 'EAAworker+Token/"42" xyz'


class RecordingComms:
    def __init__(self) -> None:
        self.messages: list = []

    def send(self, msg):
        self.messages.append(msg)


@pytest.fixture
def supervisor_comms(monkeypatch, airflow_home):
    from airflow.sdk.execution_time import task_runner

    comms = RecordingComms()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    yield comms
    from airflow.sdk._shared.secrets_masker import reset_secrets_masker

    reset_secrets_masker()


def test_the_supervisor_masks_every_spelling_the_task_registered(supervisor_comms):
    from airflow.sdk._shared.secrets_masker import reset_secrets_masker
    from airflow.sdk.execution_time.comms import MaskSecret
    from airflow.sdk.execution_time.request_handlers import handle_mask_secret
    from airflow.sdk.log import logging_processors

    from konektor_capi_airflow.hooks import mask_secret

    mask_secret(TOKEN)  # in the task process
    sent = [m for m in supervisor_comms.messages if isinstance(m, MaskSecret)]
    assert TOKEN in {m.value for m in sent}

    reset_secrets_masker()  # the supervisor's masker knows only what the messages tell it
    for message in sent:
        handle_mask_secret(message)
    out = io.BytesIO()
    processors = logging_processors(json_output=True)
    task_log = structlog.wrap_logger(structlog.BytesLogger(out), processors=processors,
                                     logger_name="task")  # fmt: skip
    spellings = [TOKEN, quote(TOKEN, safe=""), quote_plus(TOKEN), json.dumps(TOKEN)[1:-1]]
    for spelled in spellings:
        task_log.info(f"meta said: {spelled}")
    written = out.getvalue().decode()
    assert written.count("meta said: ***") == len(spellings)
    for spelled in spellings:
        assert spelled not in written
