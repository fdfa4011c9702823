"""Settings the Airflow tasks read from the deployment's environment and hand to the core."""

from __future__ import annotations

import pytest

from konektor_capi_airflow import tasks

pytestmark = pytest.mark.unit


def test_the_lease_wait_comes_from_the_environment_and_defaults_to_the_core(monkeypatch):
    monkeypatch.delenv("KONEKTOR_LEASE_WAIT_SECONDS", raising=False)
    assert tasks.lease_wait_seconds() is None  # the core's LEASE_WAIT_SECONDS
    monkeypatch.setenv("KONEKTOR_LEASE_WAIT_SECONDS", " 0.2 ")
    assert tasks.lease_wait_seconds() == 0.2
    monkeypatch.setenv("KONEKTOR_LEASE_WAIT_SECONDS", "0")
    assert tasks.lease_wait_seconds() == 0.0


@pytest.mark.parametrize("raw", ["soon", "-1", "nan", "inf"])
def test_a_lease_wait_that_is_not_a_wait_fails_the_task_without_retries(monkeypatch, raw):
    monkeypatch.setenv("KONEKTOR_LEASE_WAIT_SECONDS", raw)
    with pytest.raises(tasks.ConnectionUnusable, match="KONEKTOR_LEASE_WAIT_SECONDS must be a number"):
        tasks.lease_wait_seconds()
