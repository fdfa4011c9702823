"""Loads the project's SQL files from include/sql by name, so no SQL string lives in Python.

A line `-- @include <name>` is replaced by the file of that name: statements share one definition
(e.g. `owed_pairs`, what a run still owes) instead of repeating it.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

_DEFAULT_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"
_INCLUDE = re.compile(r"^[ \t]*--[ \t]*@include[ \t]+(\w+)[ \t]*$", re.MULTILINE)


def sql_dir() -> Path:
    # A deployment may install the package away from the repo; it points here at its include/sql.
    return Path(os.environ.get("KONEKTOR_CAPI_SQL_DIR", _DEFAULT_DIR))


@cache
def load(name: str) -> str:
    return _expand(name, ())


def _expand(name: str, including: tuple[str, ...]) -> str:
    if name in including:
        raise ValueError(f"SQL file {name!r} includes itself: {' -> '.join((*including, name))}")
    path = sql_dir() / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file named {name!r} in {sql_dir()}")
    text = path.read_text(encoding="utf-8")
    return _INCLUDE.sub(lambda m: _expand(m.group(1), (*including, name)).rstrip(), text)
