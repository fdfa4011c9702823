"""Which database and Graph API an operator command uses, decided before anything is read or sent.

Both connections, or (in a development checkout only, where devtools provides them) the dev
stand-ins: the embedded demo database and the emulator. The stand-ins only pair with each other. An emulator
answers "accepted" for events Meta never saw: recorded in a user's database, those conversions would be
lost for good (the watermark moves past them). Demo data sent to a user's Graph API would reach a real
pixel. So a half-configured environment is refused instead of being completed with a stand-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DB_VAR = "AIRFLOW_CONN_KONEKTOR_DB"
META_VAR = "AIRFLOW_CONN_META_CAPI"
OPT_IN_VAR = "KONEKTOR_DEV_EMULATOR"
DEMO_DB = "konektor_demo"

_TRUE, _FALSE = {"1", "true", "yes"}, {"", "0", "false", "no"}


class Refused(Exception):
    """The environment names a combination this command will not run with."""


@dataclass(frozen=True)
class Targets:
    db_uri: str | None  # None: the embedded server's demo database
    meta_conn: str | None  # None: the emulator, started for the command
    notes: tuple[str, ...] = ()

    @property
    def needs_stand_ins(self) -> bool:
        return self.db_uri is None or self.meta_conn is None


def flag(name: str, value: str | None) -> bool:
    """1/true/yes or 0/false/no/empty, any case; anything else is a mistake worth stopping for."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={value!r}: use 1/true/yes or 0/false/no")


def for_run(env: Mapping[str, str], command: str) -> Targets:
    """sync, backfill, check-pixels: the user's connections, or the dev pair."""
    db, meta = env.get(DB_VAR) or None, env.get(META_VAR) or None
    if db and meta:
        return Targets(db, meta)
    if db:
        try:
            opted_in = flag(OPT_IN_VAR, env.get(OPT_IN_VAR))
        except ValueError as exc:
            raise Refused(str(exc)) from None
        if not opted_in:
            raise Refused(
                f"{DB_VAR} is set but {META_VAR} is not: refusing to {command}. The emulator would answer "
                f"for Meta and its answers would be recorded in your database as sent. Set {META_VAR} to "
                f'the Graph API (e.g. \'{{"conn_type": "http", "host": "https://graph.facebook.com", '
                f'"extra": {{"api_version": "v25.0"}}}}\'), or {OPT_IN_VAR}=1 to use the emulator '
                "with this database on purpose."
            )
        return Targets(db, None, (f"{OPT_IN_VAR}=1: the configured database with the emulator; events "
                                  "recorded as sent by this run never reach Meta",))  # fmt: skip
    if meta:
        raise Refused(
            f"{META_VAR} is set but {DB_VAR} is not: refusing to {command} with the embedded demo "
            f"database against your Graph API. Set {DB_VAR} to Konektor's database."
        )
    return Targets(None, None, (f"{DB_VAR} and {META_VAR} are not set: dev run on the embedded demo "
                                f"database ({DEMO_DB}, `make demo` seeds it) with the emulator; nothing "
                                "reaches Meta",))  # fmt: skip
