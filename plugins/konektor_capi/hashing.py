"""SHA-256 for Meta's hashed user_data fields, and the distinct-value helpers the normalisers share.

Why it looks like this:

* hashlib has no vectorised form, so the speed lever is hashing each DISTINCT value once
  (pd.factorize, hash the uniques, take back by code). CRM columns repeat a lot (names, cities,
  re-sent leads), and even all-distinct columns pay only one Python call per value.
* A value that is already 64 lowercase hex characters is Meta's "already hashed" form and passes
  through, so hashing is idempotent and upstream systems may pre-hash.
* Encoding falls back to ``surrogatepass``: a lone surrogate from a broken client must not crash a batch.
  Such a value hashes to something that will simply not match.
* The empty string counts as missing: sha256("") is a known constant that matches nobody and
  only tells Meta the field was sent empty.
* Results are object arrays holding str or None (not pandas' string dtype), so a JSON builder
  can drop missing keys with a plain ``is None`` test.
"""

from __future__ import annotations

import re
from hashlib import sha256

import numpy as np
import pandas as pd

__all__ = [
    "sha256_hex",
    "is_sha256_hex",
    "hash_distinct",
    "hash_bytes",
    "factorize_text",
    "take",
    "as_text",
    "is_hashed",
]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def is_hashed(value: str) -> bool:
    """Meta's "already hashed" form: exactly 64 lowercase hex characters (the one rule; the loops
    below inline it for speed)."""
    return len(value) == 64 and _HEX64.fullmatch(value) is not None


def as_text(value: object) -> str:
    """A non-null cell as str: bytes decoded leniently, integral floats without '.0'."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def factorize_text(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(codes, distinct values as str): codes index the list, -1 marks a missing value."""
    objects = np.asarray(values, dtype=object)
    # Mostly-empty columns (cookies, ip, zip) factorize faster without their nulls; a sample decides
    # whether the full null mask is worth computing.
    if len(objects) > 10_000 and pd.isna(objects[:: len(objects) // 4096]).mean() > 0.2:
        present = ~pd.isna(objects)
        codes = np.full(len(objects), -1, dtype=np.intp)
        codes[present], uniques = pd.factorize(objects[present])
    else:
        codes, uniques = pd.factorize(objects, use_na_sentinel=True)
    distinct = np.asarray(uniques, dtype=object)
    if pd.api.types.infer_dtype(distinct, skipna=False) in ("string", "empty"):
        return codes, distinct.tolist()
    return codes, [as_text(v) for v in distinct.tolist()]


def take(values: list | np.ndarray, codes: np.ndarray) -> np.ndarray:
    """values[codes] as an object array, None where a code is -1."""
    extended = np.empty(len(values) + 1, dtype=object)
    extended[:-1] = values
    extended[-1] = None
    return extended[codes]


def hash_distinct(values: list) -> list:
    """SHA-256 hex of each str in `values`; None and '' give None, 64-lowercase-hex passes through.

    Meant for already-deduplicated values: it does one hashlib call per element.
    """
    match = _HEX64.fullmatch
    try:  # strict UTF-8 is measurably faster; lone surrogates are rare enough to redo the list
        return [
            None if not v else v if len(v) == 64 and match(v) else sha256(v.encode()).hexdigest()
            for v in values
        ]
    except UnicodeEncodeError:
        return [
            None
            if not v
            else v
            if len(v) == 64 and match(v)
            else sha256(v.encode("utf-8", "surrogatepass")).hexdigest()
            for v in values
        ]


def hash_bytes(values: list) -> list:
    """SHA-256 hex of each bytes value (None stays None), with no already-hashed check: for values
    built by this package (phone digits, ids) that cannot be hashes."""
    return [None if b is None else sha256(b).hexdigest() for b in values]


def sha256_hex(values: pd.Series) -> pd.Series:
    """SHA-256 lowercase hex of the UTF-8 of each non-null value, on the same index (object dtype).

    Already-hashed values (64 lowercase hex) are returned unchanged; null and '' give None.
    Non-str values are hashed as their str() (an int 42 hashes as "42").
    """
    codes, texts = factorize_text(values)
    return pd.Series(take(hash_distinct(texts), codes), index=values.index, name=values.name, dtype=object)


def is_sha256_hex(series: pd.Series) -> pd.Series:
    """True where the value is a str of exactly 64 lowercase hex characters; False for null."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    match = _HEX64.fullmatch
    flags = np.fromiter(
        (
            isinstance(v, str) and len(v) == 64 and match(v) is not None
            for v in np.asarray(uniques, dtype=object).tolist()
        ),
        dtype=bool,
        count=len(uniques),
    )
    result = np.append(flags, False)[codes]
    return pd.Series(result, index=series.index, name=series.name, dtype=bool)
