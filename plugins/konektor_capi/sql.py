"""Loads the project's SQL files from include/sql by name, so no SQL string lives in Python."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

_DEFAULT_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"


def sql_dir() -> Path:
    # A deployment may install the package away from the repo; it points here at its include/sql.
    return Path(os.environ.get("KONEKTOR_CAPI_SQL_DIR", _DEFAULT_DIR))


@cache
def load(name: str) -> str:
    path = sql_dir() / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file named {name!r} in {sql_dir()}")
    return path.read_text(encoding="utf-8")
