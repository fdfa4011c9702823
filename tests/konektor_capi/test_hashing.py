import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konektor_capi import hashing
from konektor_capi.hashing import factorize_text, hash_bytes, is_sha256_hex, sha256_hex

pytestmark = pytest.mark.unit


def h(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


HASHED_JOHN = h("john@example.com")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("john@example.com", "855f96e983f1f8e8be944692b6f719fd54329826cb62e98015efee8e2e071dd4"),
        ("62812345678", h("62812345678")),
        ("josé", h("josé")),  # UTF-8, not Latin-1
        ("สมศักดิ์", h("สมศักดิ์")),
        (" john@example.com", h(" john@example.com")),  # hashing does not normalise
        (HASHED_JOHN, HASHED_JOHN),  # already hashed: passes through
        (HASHED_JOHN.upper(), h(HASHED_JOHN.upper())),  # Meta's marker is lowercase hex only
        (HASHED_JOHN[:63], h(HASHED_JOHN[:63])),
        (HASHED_JOHN + "0", h(HASHED_JOHN + "0")),
        (None, None),
        ("", None),  # sha256("") would tell Meta nothing
    ],
)
def test_sha256_hex_table(value, expected):
    assert sha256_hex(pd.Series([value], dtype=object)).iloc[0] == expected


def test_known_digest_is_the_one_hashlib_gives():
    assert HASHED_JOHN == "855f96e983f1f8e8be944692b6f719fd54329826cb62e98015efee8e2e071dd4"


def test_every_kind_of_null_stays_none_and_index_name_dtype_are_kept():
    series = pd.Series([None, np.nan, pd.NA, "a", pd.NaT], index=[5, 6, 7, 8, 9], name="em", dtype=object)
    out = sha256_hex(series)
    assert out.tolist() == [None, None, None, h("a"), None]
    assert out.index.tolist() == [5, 6, 7, 8, 9]
    assert out.name == "em"
    assert out.dtype == object


def test_string_dtype_series_with_nan():
    out = sha256_hex(pd.Series(["a", None, "b"], dtype="str"))
    assert out.tolist() == [h("a"), None, h("b")]
    assert out.dtype == object


def test_non_string_values_hash_as_their_text():
    out = sha256_hex(pd.Series([42, 42.0, b"bytes"], dtype=object))
    assert out.tolist() == [h("42"), h("42"), h("bytes")]


def test_lone_surrogates_do_not_raise_and_hash_deterministically():
    value = "a\ud800b"
    expected = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    out = sha256_hex(pd.Series([value, "plain", value], dtype=object))
    assert out.tolist() == [expected, h("plain"), expected]


def test_each_distinct_value_is_hashed_once(monkeypatch):
    calls = []

    def counting_sha256(data):
        calls.append(data)
        return hashlib.sha256(data)

    monkeypatch.setattr(hashing, "sha256", counting_sha256)
    series = pd.Series(["a", "b", "a", None, "a", HASHED_JOHN, "b", HASHED_JOHN] * 1000, dtype=object)
    out = sha256_hex(series)
    assert sorted(calls) == [b"a", b"b"]  # the pre-hashed value is never hashed
    assert out.iloc[:8].tolist() == [h("a"), h("b"), h("a"), None, h("a"), HASHED_JOHN, h("b"), HASHED_JOHN]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HASHED_JOHN, True),
        ("0" * 64, True),
        (HASHED_JOHN.upper(), False),
        (HASHED_JOHN[:63], False),
        (HASHED_JOHN + "a", False),
        (HASHED_JOHN[:63] + "g", False),
        (" " + HASHED_JOHN[1:], False),
        ("", False),
        (None, False),
        (np.nan, False),
        (12345, False),
    ],
)
def test_is_sha256_hex_table(value, expected):
    out = is_sha256_hex(pd.Series([value], dtype=object))
    assert out.dtype == bool
    assert out.iloc[0] is np.True_ if expected else out.iloc[0] is np.False_


def test_is_sha256_hex_keeps_index():
    out = is_sha256_hex(pd.Series({"x": HASHED_JOHN, "y": None}))
    assert out.to_dict() == {"x": True, "y": False}


def test_hash_bytes_skips_none():
    assert hash_bytes([b"62812345678", None]) == [h("62812345678"), None]


def test_factorize_text_on_a_mostly_empty_column_matches_plain_factorize():
    values = np.array([None] * 30_000 + ["b", "a", "b"] * 1000, dtype=object)
    np.random.default_rng(0).shuffle(values)
    codes, texts = factorize_text(values)
    assert [texts[c] if c >= 0 else None for c in codes] == values.tolist()
    assert sorted(texts) == ["a", "b"]


_text = st.one_of(
    st.text(),
    st.lists(st.integers(0, 0x10FFFF), max_size=20).map(lambda cps: "".join(map(chr, cps))),
    st.binary(min_size=32, max_size=32).map(bytes.hex),  # already hashed
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), _text), max_size=30))
def test_hashing_is_deterministic_idempotent_and_well_formed(values):
    series = pd.Series(values, dtype=object)
    once = sha256_hex(series)
    assert once.tolist() == sha256_hex(series.copy()).tolist()
    assert sha256_hex(once).tolist() == once.tolist()  # hashing a hash changes nothing
    assert is_sha256_hex(once).tolist() == [v is not None for v in once]
    for value, digest in zip(values, once, strict=True):
        if not value:
            assert digest is None
        elif is_sha256_hex(pd.Series([value], dtype=object)).iloc[0]:
            assert digest == value
        else:
            assert digest == hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
