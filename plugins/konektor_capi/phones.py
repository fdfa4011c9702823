"""Phone numbers to Meta's `ph` form: digits only, with the country calling code, no '+' or '00'.

Why these rules:

* Meta matches on the full international number, and Konektor stores numbers as typed. A local
  Indonesian number ``0812...`` sent as typed never matches, so national numbers get the workspace's
  calling code (``leads.phone`` belongs to ``workspaces.default_country`` by the schema's contract).
  A national number written for another country cannot be told apart; it is read as local.
* Only a ``+`` before the first digit, or a leading ``00``, marks a number as international (a ``+``
  after a digit means the cell holds something else, so it gives None). A number that already
  starts with the default calling code and leaves a plausible national length after it
  (``62 812...``) is taken as international too: people drop the ``+`` more often than the trunk ``0``.
* The national trunk prefix comes from libphonenumber's metadata (``0`` in most countries, ``8`` in
  Russia, none in Italy whose leading ``0`` is part of the number). A trunk ``0`` written after the
  calling code (``+62 (0)812...``) is dropped, as dialling does.
* Validity is cheap and structural, not libphonenumber's full parse (~30 us a number, far too slow for
  a million rows): the calling code must exist, the national part must have one of the lengths the
  metadata allows for that code, and the whole number 8 to 15 digits (E.164). Anything else, and
  input longer than 1000 characters, gives None: a missing ``ph`` costs nothing, a wrong one dilutes
  matching.
* All characters other than digits are ignored (``(0812) 3456.7890``, ``Tel: 0812...``); digits
  typed in other scripts (full-width, Arabic-Indic, Devanagari, Thai) count as digits.

Speed: the column is factorized first; the distinct values are joined into one buffer so that
dropping non-digits is a single ``bytes.translate``; everything after is numpy on a byte matrix of
the DISTINCT (value, default country) pairs. libphonenumber is only read for per-country tables,
once per process.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from konektor_capi.hashing import as_text, factorize_text, take

__all__ = [
    "normalise_phones",
    "normalise_phones_distinct",
    "normalise_factorized_phones",
    "MIN_DIGITS",
    "MAX_DIGITS",
]

MIN_DIGITS = 8  # a few tiny territories have 7-digit numbers; allowing them lets more junk through
MAX_DIGITS = 15  # E.164 maximum
MAX_INPUT_CHARS = 1000  # longer input is free text, not a phone number
_MAX_RAW_DIGITS = MAX_DIGITS + 3  # '00' + trunk '0' may precede a full-length number
_MAX_NATIONAL = 17  # upper bound of libphonenumber's possible national lengths
_PLUS = 0x2B
# Every byte but the digits, '+' and the NUL that separates texts (non-ASCII bytes included).
_DELETE = bytes(b for b in range(1, 256) if not (0x30 <= b <= 0x39 or b == _PLUS))
# Digits people paste from phones set to other scripts or full-width input: mapped to ASCII first.
_UNICODE_TO_ASCII = {
    base + i: 0x30 + i for base in (0x0660, 0x06F0, 0x0966, 0x0E50, 0xFF10) for i in range(10)
} | {0xFF0B: _PLUS}


@cache
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables indexed by calling code (0..999), built once from libphonenumber metadata."""
    is_cc = np.zeros(1000, dtype=bool)
    possible = np.zeros((1000, _MAX_NATIONAL + 1), dtype=bool)  # [cc, national length]
    trunk0 = np.zeros(1000, dtype=bool)  # national numbers of this code may be written with a leading 0
    cc_digits = np.zeros((1000, 3), dtype=np.uint8)
    cc_len = np.zeros(1000, dtype=np.int64)
    for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        if not 0 < cc < 1000:
            continue
        is_cc[cc] = True
        text = str(cc)
        cc_len[cc] = len(text)
        cc_digits[cc, : len(text)] = [int(ch) for ch in text]
        for i, region in enumerate(regions):
            if region == "001":
                meta = PhoneMetadata.metadata_for_nongeo_region(cc)
            else:
                meta = PhoneMetadata.metadata_for_region(region)
            if meta is None:
                continue
            for length in meta.general_desc.possible_length or ():
                if 0 < length <= _MAX_NATIONAL:
                    possible[cc, length] = True
            if i == 0 and meta.national_prefix == "0":
                trunk0[cc] = True
        if not possible[cc].any():  # no metadata: accept any length, E.164 bounds still apply
            possible[cc, 1:] = True
    return is_cc, possible, trunk0, cc_digits, cc_len


@cache
def _region_info(region: str) -> tuple[int, tuple[int, ...]]:
    """(calling code, trunk prefix digits) of an ISO alpha-2 region; (0, ()) when unknown."""
    cc = phonenumbers.country_code_for_region(region)
    if not 0 < cc < 1000:
        return 0, ()
    meta = PhoneMetadata.metadata_for_region(region)
    prefix = meta.national_prefix if meta is not None else None
    if not prefix or not prefix.isdigit():
        return cc, ()
    return cc, tuple(int(ch) for ch in prefix)


def _extract(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits of each text as a (n, 18) matrix of digit values, plus digit count, '+' flag, usable flag.

    All texts are joined into one NUL-separated buffer so that deleting everything but digits and
    '+' is a single bytes.translate call; splitting it again gives a fixed-width byte matrix.
    """
    n = len(texts)
    if n == 0:
        empty = np.zeros(0, dtype=bool)
        return np.zeros((0, _MAX_RAW_DIGITS), dtype=np.uint8), np.zeros(0, dtype=np.int64), empty, empty
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    if (lengths > MAX_INPUT_CHARS).any():
        texts = [t if len(t) <= MAX_INPUT_CHARS else "" for t in texts]
    joined = "\x00".join(texts)
    if not joined.isascii():
        texts = [t if t.isascii() else t.translate(_UNICODE_TO_ASCII) for t in texts]
        joined = "\x00".join(texts)
    kept = joined.encode("utf-8", "surrogatepass").translate(None, _DELETE)
    if kept.count(b"\x00") != n - 1:  # a text contained NUL itself
        joined = "\x00".join(t.replace("\x00", "") for t in texts)
        kept = joined.encode("utf-8", "surrogatepass").translate(None, _DELETE)
    buffer = np.frombuffer(kept, dtype=np.uint8)
    ends = np.append(np.flatnonzero(buffer == 0), buffer.size)
    kept_len = np.diff(ends, prepend=-1) - 1
    width = _MAX_RAW_DIGITS + 1
    chars = np.array(kept.split(b"\x00"), dtype=f"S{width}").view(np.uint8).reshape(n, width)
    plus = chars[:, 0] == _PLUS
    body = np.where(plus[:, None], chars[:, 1:], chars[:, :-1])
    count = kept_len - plus
    digits = body - np.uint8(0x30)  # uint8: NUL padding and a '+' wrap around to values >= 10
    is_digit = digits < 10
    # A '+' after the first digit means this is not one phone number.
    usable = (count >= 1) & (count <= _MAX_RAW_DIGITS) & (is_digit.sum(axis=1) == count)
    digits *= is_digit
    return digits, count, plus, usable


def _all_equal(d: np.ndarray, prefix: tuple[int, ...] | np.ndarray, at: int = 0) -> np.ndarray:
    result = np.ones(d.shape[0], dtype=bool)
    for j, digit in enumerate(prefix):
        result &= d[:, at + j] == digit
    return result


def _assemble(
    d: np.ndarray,
    n: np.ndarray,
    plus: np.ndarray,
    usable: np.ndarray,
    region_id: np.ndarray,
    regions: list[str],
    as_bytes: bool = False,
) -> np.ndarray:
    """Final numbers (object array of str or None) for digit rows paired with a region index."""
    is_cc, possible, trunk0, cc_digits, cc_len = _tables()
    size = d.shape[0]
    rows = np.arange(size)
    last = _MAX_RAW_DIGITS - 1

    double_zero = ~plus & (n >= 2) & (d[:, 0] == 0) & (d[:, 1] == 0)
    international = plus | double_zero
    start = np.where(double_zero, 2, 0)
    prefix_cc = np.zeros(size, dtype=np.int64)  # calling code to put in front; 0 = number carries its own
    bad = ~usable

    for rid, region in enumerate(regions):
        group = ~international & (region_id == rid)
        if not group.any():
            continue
        cc, trunk = _region_info(region)
        if cc == 0:
            bad |= group
            continue
        k = int(cc_len[cc])
        starts_cc = group & (n > k) & _all_equal(d, cc_digits[cc, :k])
        rest = n - k - (trunk0[cc] & (d[:, min(k, last)] == 0))
        as_international = starts_cc & possible[cc, np.clip(rest, 0, _MAX_NATIONAL)]
        national = group & ~as_international
        prefix_cc[national] = cc
        if trunk:
            with_trunk = national & (n > len(trunk)) & _all_equal(d, trunk)
            start[with_trunk] = len(trunk)

    # Numbers that carry their calling code: calling codes are prefix-free, so at most one of the
    # first 1, 2 or 3 digits is a code.
    g0 = d[rows, np.minimum(start, last)].astype(np.int64)
    g1 = d[rows, np.minimum(start + 1, last)]
    g2 = d[rows, np.minimum(start + 2, last)]
    v2 = g0 * 10 + g1
    v3 = v2 * 10 + g2
    avail = n - start
    c1 = (g0 != 0) & is_cc[g0] & (avail >= 1)
    c2 = (g0 != 0) & is_cc[v2] & (avail >= 2)
    c3 = (g0 != 0) & is_cc[v3] & (avail >= 3)
    detected_len = np.where(c1, 1, np.where(c2, 2, np.where(c3, 3, 0)))
    detected = np.where(c1, g0, np.where(c2, v2, np.where(c3, v3, 0)))

    carried = prefix_cc == 0
    cc = np.where(carried, detected, prefix_cc)
    national_start = np.where(carried, start + detected_len, start)
    # '+62 (0)812...': drop a trunk 0 written after the calling code.
    after = d[rows, np.minimum(national_start, last)]
    national_start += carried & trunk0[cc] & (national_start < n) & (after == 0)

    national_len = n - national_start
    code_len = cc_len[cc]
    total = code_len + national_len
    valid = (
        ~bad
        & (cc > 0)
        & (national_len >= 1)
        & possible[cc, np.clip(national_len, 0, _MAX_NATIONAL)]
        & (total >= MIN_DIGITS)
        & (total <= MAX_DIGITS)
    )

    out = np.full(size, None, dtype=object)
    keep = np.flatnonzero(valid)
    if keep.size == 0:
        return out
    # Build the digit strings in a small uint8 matrix: the national digits shifted into place (one
    # slice per distinct shift, there are a handful), then the calling code over the first columns.
    shift = (national_start - code_len)[keep]
    kd = d[keep]
    padded = np.zeros((keep.size, 3 + _MAX_RAW_DIGITS + MAX_DIGITS), dtype=np.uint8)
    padded[:, 3 : 3 + _MAX_RAW_DIGITS] = kd
    chars = np.empty((keep.size, MAX_DIGITS), dtype=np.uint8)
    for value in np.unique(shift).tolist():
        rows_with = shift == value
        chars[rows_with] = padded[rows_with, 3 + value : 3 + value + MAX_DIGITS]
    klen = code_len[keep]
    kcc = cc[keep]
    for j in range(3):
        chars[:, j] = np.where(j < klen, cc_digits[kcc, j], chars[:, j])
    chars += np.uint8(0x30)
    # One comma after each number and NUL beyond it: dropping NULs leaves "n1,n2,...,", split once.
    text = np.zeros((keep.size, MAX_DIGITS + 1), dtype=np.uint8)
    text[:, :MAX_DIGITS] = chars
    ktotal = total[keep]
    text[np.arange(MAX_DIGITS + 1) > ktotal[:, None]] = 0
    text[np.arange(keep.size), ktotal] = 0x2C
    flat = text.ravel()
    numbers = np.empty(keep.size, dtype=object)
    joined = flat[flat != 0].tobytes()
    numbers[:] = joined.split(b",")[:-1] if as_bytes else joined.decode("ascii").split(",")[:-1]
    out[keep] = numbers
    return out


def _regions_per_row(default_country: pd.Series | str | None, n: int) -> tuple[np.ndarray, list[str]]:
    if default_country is None or isinstance(default_country, str):
        region = "" if default_country is None else default_country.strip().upper()
        return np.zeros(n, dtype=np.int64), [region]
    if len(default_country) != n:
        raise ValueError(f"default_country has {len(default_country)} rows, raw has {n}")
    codes, uniques = pd.factorize(default_country, use_na_sentinel=True)
    regions = [as_text(u).strip().upper() for u in np.asarray(uniques, dtype=object).tolist()]
    # Missing workspace country: an index with an empty region, which maps to no calling code.
    codes = np.where(codes < 0, len(regions), codes)
    regions.append("")
    return codes.astype(np.int64), regions


def normalise_phones_distinct(
    raw: pd.Series, default_country: pd.Series | str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Like normalise_phones, but returns (codes, numbers): one entry of `numbers` (str or None) per
    distinct (raw, default_country) pair, and per row its index in `numbers` (-1: raw missing).

    Lets callers hash each distinct number once instead of once per row.
    """
    raw_codes, texts = factorize_text(raw)
    return normalise_factorized_phones(raw_codes, texts, default_country)


def normalise_factorized_phones(
    raw_codes: np.ndarray,
    texts: list[str],
    default_country: pd.Series | str | None,
    as_bytes: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """normalise_phones_distinct for a column already split by hashing.factorize_text.

    With as_bytes the numbers are ASCII bytes, ready for hashlib without an encode.
    """
    n = len(raw_codes)
    region_codes, regions = _regions_per_row(default_country, n)
    present = raw_codes >= 0
    codes = np.full(n, -1, dtype=np.int64)
    if not present.any():
        return codes, np.empty(0, dtype=object)
    row_regions = region_codes[present]
    if (row_regions == row_regions[0]).all():  # the usual case: one workspace country
        codes = raw_codes
        value_index = np.arange(len(texts))
        region_index = np.full(len(texts), row_regions[0])
    else:
        width = len(regions)
        key = raw_codes[present].astype(np.int64) * width + row_regions
        pair_codes, pair_keys = pd.factorize(key)
        codes[present] = pair_codes
        pair_keys = np.asarray(pair_keys, dtype=np.int64)
        value_index = pair_keys // width
        region_index = pair_keys % width

    digits, count, plus, usable = _extract(texts)
    numbers = _assemble(
        digits[value_index],
        count[value_index],
        plus[value_index],
        usable[value_index],
        region_index,
        regions,
        as_bytes,
    )
    return codes, numbers


def normalise_phones(raw: pd.Series, default_country: pd.Series | str | None) -> pd.Series:
    """Digits-only international numbers ('6281234567890'), None where missing or not a phone number.

    `default_country` is the ISO alpha-2 region of national numbers, per row (a Series aligned
    by position with `raw`) or one code for all rows. Returns an object Series on raw's index.
    """
    codes, numbers = normalise_phones_distinct(raw, default_country)
    return pd.Series(take(numbers, codes), index=raw.index, name=raw.name, dtype=object)
