"""The Graph API emulator and Konektor's tables as fixtures, and `sync_once`, for every test that needs them.

Loaded by tests/conftest.py as a plugin (`pytest_plugins`); tests import `sync_once` from here.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devtools.graph_emulator.process import EmulatorAdmin, start_emulator
from konektor_capi.graph_client import GraphApiClient, GraphApiConfig
from konektor_capi.mapping import EventMapping
from konektor_capi.pipeline import finish_run, plan_groups, sync_group
from konektor_capi.retry_policy import Backoff
from konektor_capi.runs import open_run
from tests.factory import Konektor


@pytest.fixture(scope="session")
def emulator():
    with start_emulator() as emu:
        yield emu


@pytest.fixture
def meta(emulator) -> EmulatorAdmin:
    admin = EmulatorAdmin(emulator.base_url)
    admin.reset(pixels=True)
    return admin


@pytest.fixture
def konektor(db_uri):
    k = Konektor(db_uri)
    yield k
    k.close()


@pytest.fixture
def client(emulator):
    # Short backoff: the retry rules are the same, the test just waits less.
    c = GraphApiClient(GraphApiConfig(base_url=emulator.base_url, backoff=Backoff(base=0.01, cap=0.05)))
    yield c
    c.close()


def sync_once(
    engine,
    client,
    run_id: str = "run-1",
    *,
    mode: str = "hourly",
    window_end: datetime | None = None,
    window_start: datetime | None = None,
    mapping: EventMapping | None = None,
    lease_wait: float | None = None,
    **run_args,
) -> dict:
    """One run through the same stages the DAG wires: open, plan, sync each group, finish."""
    mapping = mapping or EventMapping()
    run = open_run(engine, run_id, mode=mode, window_end=window_end or datetime.now(UTC),
                   window_start=window_start, **run_args)  # fmt: skip
    groups = plan_groups(engine, run, mapping)
    results = [sync_group(engine, client, run, group, mapping, lease_wait=lease_wait) for group in groups]
    summary = finish_run(engine, run, mapping)
    summary["groups"] = results
    return summary
