"""Workspace leases: one run at a time sends a workspace's events; a lease never outlives its holder."""

from __future__ import annotations

import pytest

from konektor_capi.leases import WorkspaceLeases

pytestmark = pytest.mark.integration


def test_a_held_workspace_is_reported_missing_and_free_once_its_holder_closes(engine):
    first, second = WorkspaceLeases(engine), WorkspaceLeases(engine)
    try:
        assert first.take((1, 2), wait=0) == []
        assert second.take((2, 3), wait=0) == [2]  # 3 taken, 2 held by the first
        assert second.held == [3]
        first.close()
        assert second.take((2,), wait=0) == []
        assert sorted(second.held) == [2, 3]
    finally:
        first.close()
        second.close()


def test_a_wait_ends_with_the_holders_release(engine):
    import threading

    holder, waiter = WorkspaceLeases(engine), WorkspaceLeases(engine)
    try:
        holder.take((7,), wait=0)
        threading.Timer(0.3, holder.close).start()
        assert waiter.take((7,), wait=10) == []  # released after ~0.3 s, long before the 10 s wait
    finally:
        holder.close()
        waiter.close()
