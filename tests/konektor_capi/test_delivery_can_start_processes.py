"""Where delivery may run: a child process only where the task's process may start one."""

from __future__ import annotations

import multiprocessing

import pytest

from konektor_capi.delivery import can_start_processes

pytestmark = pytest.mark.unit


def _report(results) -> None:
    results.put(can_start_processes())


def test_a_daemonic_worker_delivers_from_a_thread_instead():
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    worker = context.Process(target=_report, args=(results,), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert results.get(timeout=5) is False  # multiprocessing would refuse to start a child here
    assert can_start_processes() is True
