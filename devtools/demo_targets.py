"""`make demo`'s targets: always its own embedded database and emulator, whatever the environment says."""

from __future__ import annotations

from collections.abc import Mapping

from konektor_capi_cli.targets import DB_VAR, DEMO_DB, META_VAR, Targets


def for_demo(env: Mapping[str, str]) -> Targets:
    """The demo seeds (wipes) its database: only ever its own, and it talks only to its own emulator."""
    notes = []
    if env.get(DB_VAR):
        notes.append(f"{DB_VAR} is set; the demo ignores it and uses its own embedded database ({DEMO_DB})")
    if env.get(META_VAR):
        notes.append(f"{META_VAR} is set; the demo ignores it and sends only to its own emulator")
    return Targets(None, None, tuple(notes))
