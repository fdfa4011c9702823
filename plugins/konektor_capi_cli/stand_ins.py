"""What a command needs from where it runs: its name, its Airflow, and (in a checkout) the dev stand-ins.

The production image has Airflow configured and no stand-ins: a command there needs both connections.
A development checkout (devtools) adds the embedded demo database and the Graph API emulator, which
targets.for_run pairs only with each other.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from konektor_capi_cli.foreground_run import Airflow

# Yields the meta_capi connection value and a function returning the emulator's counters.
EmulatedGraphApi = AbstractContextManager[tuple[str, Callable[[], dict]]]


class StandIns(Protocol):
    def database(self) -> str:
        """The URI of the embedded demo database, created (empty) if missing."""
        ...

    def pixel_tokens(self, db_uri: str) -> dict[str, str]:
        """pixel_id -> token: what the emulator must accept for this database."""
        ...

    def graph_api(self, tokens: dict[str, str]) -> EmulatedGraphApi:
        """An emulator started for the block, with `tokens` registered."""
        ...


@dataclass(frozen=True)
class Session:
    prog: str  # what messages start with: "konektor-capi", or "make" for a checkout's targets
    airflow: Callable[[], Airflow]
    stand_ins: StandIns | None = None
    prepare: Callable[[Airflow], None] = lambda airflow: None  # before a run (a checkout migrates its DB)


def installed() -> Session:
    """The console script: Airflow as this environment configures it, no stand-ins."""
    return Session("konektor-capi", Airflow.from_environment)
