"""Workspace leases: two runs never send one workspace's events at once."""

from __future__ import annotations

import time

import sqlalchemy as sa

from konektor_capi import sql

# The advisory-lock class id of our workspace leases (pg_try_advisory_lock(int, int)): "KC".
LEASE_NAMESPACE = 0x4B43


class WorkspaceLeases:
    """One lease per workspace: a session advisory lock on a dedicated connection, in autocommit (no
    transaction stays open while the group syncs). Closing the connection releases every lease, and
    so does the end of the session when the process is killed: a lease never outlives its holder."""

    def __init__(self, engine: sa.Engine) -> None:
        self._fairy = engine.raw_connection()
        self._conn = self._fairy.driver_connection
        self._fairy.detach()  # closed for real at the end, never handed back to the pool holding locks
        self._conn.autocommit = True
        self.held: list[int] = []

    def take(self, workspace_ids: tuple[int, ...], wait: float) -> list[int]:
        """Takes what it can now, then waits up to `wait` seconds for the rest; returns what it lacks."""
        deadline = time.monotonic() + max(wait, 0.0)
        missing, pause = sorted(workspace_ids), 0.05
        while True:
            missing = [w for w in missing if not self._try(w)]
            left = deadline - time.monotonic()
            if not missing or left <= 0:
                return missing
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)

    def _try(self, workspace_id: int) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(sql.load("lease_try"), {"namespace": LEASE_NAMESPACE, "workspace_id": workspace_id})
            taken = bool(cur.fetchone()[0])
        if taken:
            self.held.append(workspace_id)
        return taken

    def close(self) -> None:
        try:
            if self.held and not self._conn.closed:
                with self._conn.cursor() as cur:
                    cur.execute(sql.load("lease_release_all"))
        finally:
            self.held = []
            self._fairy.close()

    def __enter__(self) -> WorkspaceLeases:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
