import datetime as dt
import hashlib
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from konektor_capi import user_data
from konektor_capi.user_data import HASHED_COLUMNS, INPUT_COLUMNS, OUTPUT_COLUMNS, build_user_data

pytestmark = pytest.mark.unit

PLAIN_COLUMNS = ("fbc", "fbp", "client_ip_address", "client_user_agent", "lead_id")
CREATED = pd.Timestamp("2026-11-20 10:00:00.123", tz="UTC")
CREATED_MS = 1795168800123


def h(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def frame(*rows: dict, index=None, **common) -> pd.DataFrame:
    """Lead rows with every input column; unspecified values are None (default_country 'ID')."""
    base = {c: None for c in INPUT_COLUMNS} | {"default_country": "ID", "lead_created_at": CREATED}
    return pd.DataFrame([base | common | row for row in rows or ({},)], index=index)


def field(column: str, **values):
    return build_user_data(frame(values))[column].iloc[0]


def test_output_shape_index_and_dtypes():
    df = frame({"email": "a@b.co"}, {"email": None}, index=[10, 42])
    out = build_user_data(df)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert out.index.tolist() == [10, 42]
    assert all(out[c].dtype == object for c in out.columns)
    assert out is not df


def test_duplicate_index_labels_are_fine():
    df = frame({"email": "a@b.co", "fbclid": "x"}, {"email": "c@d.co"}, index=[7, 7])
    out = build_user_data(df)
    assert out.index.tolist() == [7, 7]
    assert out["em"].tolist() == [h("a@b.co"), h("c@d.co")]
    assert out["fbc"].tolist() == [f"fb.1.{CREATED_MS}.x", None]


def test_all_null_row_gives_none_everywhere_except_the_workspace_country():
    out = build_user_data(frame({}, {"default_country": None}))
    row = out.iloc[0].to_dict()
    assert row.pop("country") == h("id")
    assert all(v is None for v in row.values())
    assert all(v is None for v in out.iloc[1].tolist())  # no default country either


def test_empty_frame():
    out = build_user_data(frame().iloc[:0])
    assert out.empty and tuple(out.columns) == OUTPUT_COLUMNS


def test_missing_input_column_is_an_error_not_silent_nulls():
    with pytest.raises(KeyError, match="phone"):
        build_user_data(frame().drop(columns=["phone"]))


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("john@example.com", "john@example.com"),
        (" John@Example.COM \n", "john@example.com"),
        ("first.last+tag@sub.example.co.id", "first.last+tag@sub.example.co.id"),
        ("józef@example.pl", "józef@example.pl"),
        ("not-an-email", None),
        ("john@", None),
        ("john@example", None),
        ("john@@example.com", None),
        ("john doe@example.com", None),
        ("john@example..com", None),
        ("john@.example.com", None),
        ("john@example.com.", None),
        ("@example.com", None),
        ("a" * 250 + "@example.com", None),  # longer than an address can be
        ("", None),
        ("   ", None),
    ],
)
def test_email(raw, normalised):
    assert field("em", email=raw) == (h(normalised) if normalised else None)


@pytest.mark.parametrize(("column", "output"), [("email", "em"), ("phone", "ph"), ("first_name", "fn"),
                                               ("last_name", "ln"), ("city", "ct"), ("state", "st"),
                                               ("zip_code", "zp"), ("gender", "ge")])  # fmt: skip
def test_already_hashed_values_pass_through_unhashed(column, output):
    digest = h("whatever")
    # Trimmed and lowercased first, as Meta's SDK does, so an upper-case hex digest counts too;
    # the third row takes the US rules for st and zp.
    df = frame({column: digest}, {column: f"  {digest.upper()} "}, {column: digest, "default_country": "US"})
    assert build_user_data(df)[output].tolist() == [digest, digest, digest]


def test_already_hashed_country_passes_through():
    digest = h("id")
    assert field("country", country=digest) == digest


@pytest.mark.parametrize(
    ("raw", "default", "number"),
    [
        ("0812-3456-7890", "ID", "6281234567890"),
        ("+62 812 3456 7890", "ID", "6281234567890"),
        ("0062 812-3456-7890", "ID", "6281234567890"),
        ("62 812 3456 7890", "ID", "6281234567890"),
        ("(0812) 3456.7890", "ID", "6281234567890"),
        ("012-345 6789", "MY", "60123456789"),
        ("0812", "ID", None),
        ("0812-3456-7890", None, None),  # a local number without a workspace country
    ],
)
def test_phone(raw, default, number):
    assert field("ph", phone=raw, default_country=default) == (h(number) if number else None)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("John", "john"),
        ("  MARY-ANN ", "maryann"),
        ("Mary Ann", "maryann"),
        ("Siti Nur-Aisyah", "sitinuraisyah"),
        ("O’Brien", "obrien"),  # curly apostrophe
        ("D'Angelo Jr.", "dangelojr"),
        ("José", "josé"),
        ("Jose\u0301", "josé"),  # decomposed é: NFC gives the same hash as composed
        ("ÉLODIE", "élodie"),
        ("สมศักดิ์", "สมศักดิ์"),  # Thai: combining vowel and tone marks are kept
        ("राहुल", "राहुल"),  # Devanagari vowel sign kept
        ("Putri 😊", "putri"),
        ("R2-D2", "rd"),
        ("12345", None),
        ("-", None),
        ("", None),
        ("x" * 1001, None),
    ],
)
def test_first_and_last_name(raw, normalised):
    expected = h(unicodedata.normalize("NFC", normalised)) if normalised else None
    assert field("fn", first_name=raw) == expected
    assert field("ln", last_name=raw) == expected


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Jakarta Selatan", "jakartaselatan"),
        ("Kab. Bandung", "kabbandung"),
        ("St. Louis", "stlouis"),
        ("Winston-Salem", "winstonsalem"),
        ("  ", None),
    ],
)
def test_city(raw, normalised):
    assert field("ct", city=raw) == (h(normalised) if normalised else None)


@pytest.mark.parametrize(
    ("raw", "country", "default", "normalised"),
    [
        ("California", "US", "ID", "ca"),
        ("CA", "US", "ID", "ca"),
        ("new york", "United States", "ID", "ny"),
        ("District of Columbia", None, "US", "dc"),  # US through the workspace default
        ("Ontario", "US", "ID", "ontario"),  # not a US state: normalised text
        ("DKI Jakarta", "ID", "ID", "dkijakarta"),
        ("Jawa Barat", None, "ID", "jawabarat"),
        ("JB", None, "ID", "jb"),
        ("California", "ID", "ID", "california"),  # no US code mapping outside the US
        ("", "US", "ID", None),
    ],
)
def test_state(raw, country, default, normalised):
    got = field("st", state=raw, country=country, default_country=default)
    assert got == (h(normalised) if normalised else None)


@pytest.mark.parametrize(
    ("raw", "country", "normalised"),
    [
        ("12950", "ID", "12950"),
        ("12 950", "ID", "12950"),
        ("SW1A 1AA", "GB", "sw1a1aa"),
        ("01310-100", "BR", "01310100"),
        ("94105-1234", "US", "94105"),
        ("94105 1234", "US", "94105"),
        ("94105", "USA", "94105"),
        ("9410", "US", None),  # a US zip needs 5 digits
        ("ABCDE", "US", None),
        (" - ", "ID", None),
    ],
)
def test_zip(raw, country, normalised):
    assert field("zp", zip_code=raw, country=country) == (h(normalised) if normalised else None)


def test_state_and_zip_rules_follow_each_rows_country():
    df = frame(
        {"state": "California", "zip_code": "94105-1234", "country": "US"},
        {"state": "California", "zip_code": "94105-1234", "country": "ID"},
        {"state": "California", "zip_code": "94105-1234", "country": None, "default_country": "US"},
    )
    out = build_user_data(df)
    assert out["st"].tolist() == [h("ca"), h("california"), h("ca")]
    assert out["zp"].tolist() == [h("94105"), h("941051234"), h("94105")]


@pytest.mark.parametrize(
    ("raw", "default", "code"),
    [
        ("ID", "ID", "id"),
        ("id", "ID", "id"),
        ("IDN", "ID", "id"),
        ("Indonesia", "US", "id"),
        ("  indonesia ", "US", "id"),
        ("Malaysia", "ID", "my"),
        ("MYS", "ID", "my"),
        ("United States", "ID", "us"),
        ("United States of America", "ID", "us"),
        ("USA", "ID", "us"),
        ("U.S.A.", "ID", "us"),
        ("UK", "ID", "gb"),
        ("United Kingdom", "ID", "gb"),
        ("Singapura", "ID", "sg"),  # Indonesian name
        ("Côte d'Ivoire", "ID", "ci"),
        ("South Korea", "ID", "kr"),
        (None, "ID", "id"),  # missing: workspace default
        ("", "MY", "my"),
        ("Atlantis", "ID", "id"),  # unknown: workspace default
        ("ZZ", "ID", "id"),
        ("Atlantis", "XX", None),  # no usable default either
        ("Atlantis", None, None),
    ],
)
def test_country(raw, default, code):
    assert field("country", country=raw, default_country=default) == (h(code) if code else None)


def test_country_names_work_without_pycountry(monkeypatch):
    # The runtime does not ship pycountry; the mapping must not depend on it.
    import sys

    monkeypatch.setitem(sys.modules, "pycountry", None)
    user_data._country_names.cache_clear()
    try:
        assert field("country", country="Philippines") == h("ph")
        assert field("country", country="Vietnam") == h("vn")
    finally:
        user_data._country_names.cache_clear()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("F", "f"),
        ("female", "f"),
        ("Perempuan", "f"),
        ("WANITA", "f"),
        ("m", "m"),
        ("Male", "m"),
        ("Laki-laki", "m"),
        ("laki laki", "m"),
        ("Pria", "m"),
        ("L", "m"),
        ("P", "f"),  # Indonesian forms pair L (laki-laki) with P (perempuan)
        ("other", None),
        ("", None),
    ],
)
def test_gender(raw, code):
    assert field("ge", gender=raw) == (h(code) if code else None)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        (dt.date(1990, 5, 17), "19900517"),
        (dt.date(1900, 1, 1), "19000101"),
        (dt.datetime(1985, 12, 1, 23, 59), "19851201"),
        (pd.Timestamp("2001-02-03"), "20010203"),
        ("1990-05-17", "19900517"),
        (dt.date(1899, 12, 31), None),
        (dt.date(2999, 1, 1), None),  # in the future
        ("17/05/1990", None),
        (None, None),
    ],
)
def test_date_of_birth(raw, normalised):
    df = frame({"date_of_birth": raw}, {"date_of_birth": dt.date(1970, 1, 1)})
    assert build_user_data(df)["db"].iloc[0] == (h(normalised) if normalised else None)


def test_date_of_birth_from_a_datetime64_column_and_tomorrow_is_future(monkeypatch):
    monkeypatch.setattr(user_data, "_today_utc", lambda: dt.date(2026, 11, 25))
    df = frame({}, {}, {})
    df["date_of_birth"] = pd.to_datetime(["1990-05-17", "2026-11-25", "2026-11-26"])
    assert build_user_data(df)["db"].tolist() == [h("19900517"), h("20261125"), None]


def test_external_id_is_the_hashed_konektor_lead_id():
    df = frame({"lead_id": 42}, {"lead_id": 7})
    assert build_user_data(df)["external_id"].tolist() == [h("42"), h("7")]
    nullable = frame({}, {})
    nullable["lead_id"] = pd.array([42, None], dtype="Int64")
    assert build_user_data(nullable)["external_id"].tolist() == [h("42"), None]
    floats = frame({}, {})
    floats["lead_id"] = [42.0, np.nan]  # what an int column with a NULL becomes
    assert build_user_data(floats)["external_id"].tolist() == [h("42"), None]
    big = frame({}, {})
    big["lead_id"] = np.array([2**64 - 1, 1], dtype=np.uint64)
    assert build_user_data(big)["external_id"].tolist() == [h(str(2**64 - 1)), h("1")]


def test_fbc_kept_when_well_formed_else_built_from_fbclid():
    df = frame(
        {"fbc": " fb.1.1554763741205.AbCdEf ", "fbclid": "Ignored"},
        {"fbc": "garbage", "fbclid": "IwAR2F4-dbP0l7_Mn"},
        {"fbclid": "IwAR2F4-dbP0l7_Mn"},
        {"fbclid": "IwAR x"},  # not a click id
        {"fbclid": "IwAR2F4", "lead_created_at": pd.NaT},
        {"fbc": "fb.1.abc.def"},
        {"fbc": "fb.1.123.ab cd"},
        {},
    )
    assert build_user_data(df)["fbc"].tolist() == [
        "fb.1.1554763741205.AbCdEf",
        f"fb.1.{CREATED_MS}.IwAR2F4-dbP0l7_Mn",  # case of fbclid kept
        f"fb.1.{CREATED_MS}.IwAR2F4-dbP0l7_Mn",
        None,
        None,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize("index", ["0", "1", "2"])
def test_fbc_with_any_subdomain_index_is_kept_as_given_and_not_rebuilt_from_fbclid(index):
    # fb.2: a cookie set on example.co.id; fb.0: on a top-level domain. An fbclid of the same lead does
    # not replace the cookie's real click time with the lead's creation time.
    fbc = f"fb.{index}.1554763741205.AbCdEfGh"
    df = frame({"fbc": fbc, "fbclid": "IwAR2F4-dbP0l7_Mn"}, {"fbc": f"fb.{index}.1554763741205.AbCdEfGh"})
    assert build_user_data(df)["fbc"].tolist() == [fbc, fbc]


def test_fbc_with_an_unknown_subdomain_index_is_not_an_fbc():
    bad = "fb.3.1554763741205.AbCdEfGh"
    df = frame({"fbc": bad, "fbclid": "IwAR2"}, {"fbc": bad})
    assert build_user_data(df)["fbc"].tolist() == [f"fb.1.{CREATED_MS}.IwAR2", None]


def test_fbc_from_fbclid_uses_each_rows_creation_time():
    jakarta_morning = pd.Timestamp("2026-01-01 07:00", tz="Asia/Jakarta")  # midnight UTC
    df = frame({"fbclid": "a"}, {"fbclid": "b", "lead_created_at": jakarta_morning})
    assert build_user_data(df)["fbc"].tolist() == [f"fb.1.{CREATED_MS}.a", "fb.1.1767225600000.b"]


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("fb.1.1596403881668.1116446470", "fb.1.1596403881668.1116446470"),
        (" fb.1.1596403881668.1116446470\n", "fb.1.1596403881668.1116446470"),
        ("fb.1.1596403881668.abc", None),
        ("fb.2.1596403881668.1116446470", "fb.2.1596403881668.1116446470"),
        ("fb.0.1596403881668.1116446470", "fb.0.1596403881668.1116446470"),
        ("fb.1.1596403881668.1116446470.AQ", "fb.1.1596403881668.1116446470.AQ"),  # an appendix
        ("fb.3.1596403881668.1116446470", None),
        ("fb.1.1596403881668.1116446470.", None),
        ("1596403881668.1116446470", None),
    ],
)
def test_fbp(raw, kept):
    assert field("fbp", fbp=raw) == kept


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (" 203.0.113.7 ", "203.0.113.7"),
        ("255.255.255.255", "255.255.255.255"),
        ("2001:DB8:0:0:0:0:0:1", "2001:DB8:0:0:0:0:0:1"),
        ("::ffff:203.0.113.7", "::ffff:203.0.113.7"),
        ("fe80::1%eth0", None),
        ("2001:db8::g", None),
        ("256.1.1.1", None),
        ("203.0.113", None),
        ("01.2.3.4", None),
        ("localhost", None),
        ("", None),
    ],
)
def test_client_ip(raw, kept):
    assert field("client_ip_address", client_ip=raw) == kept


def test_user_agent_and_meta_lead_id_are_trimmed_not_hashed():
    df = frame(
        {"client_user_agent": "  Mozilla/5.0 (Linux)  ", "meta_lead_id": " 1234567890123456 "},
        {"client_user_agent": "   ", "meta_lead_id": "l:123"},
        {"client_user_agent": "x" * 1001, "meta_lead_id": "1" * 21},
    )
    out = build_user_data(df)
    assert out["client_user_agent"].tolist() == ["Mozilla/5.0 (Linux)", None, None]
    assert out["lead_id"].tolist() == ["1234567890123456", None, None]


def test_an_invalid_value_drops_only_its_field():
    df = frame(
        {"email": "broken@", "phone": "0812-3456-7890", "first_name": "Ani", "client_ip": "999.1.1.1"},
        {"email": "ani@example.com", "phone": "12", "first_name": "Ani", "client_ip": "10.0.0.1"},
    )
    out = build_user_data(df)
    assert out["em"].tolist() == [None, h("ani@example.com")]
    assert out["ph"].tolist() == [h("6281234567890"), None]
    assert out["fn"].tolist() == [h("ani"), h("ani")]
    assert out["client_ip_address"].tolist() == [None, "10.0.0.1"]
    assert out["external_id"].tolist() == [None, None]


def test_object_and_string_dtype_inputs_agree():
    rows = [
        {"email": "A@b.co", "phone": "0812 3456 7890", "first_name": "Ani", "country": "Indonesia"},
        {"email": None, "phone": None, "first_name": None, "country": None, "fbp": "fb.1.1.2"},
    ]
    as_object = frame(*rows).astype({c: object for c in ("email", "phone", "first_name", "country", "fbp")})
    as_string = frame(*rows).astype({c: "str" for c in ("email", "phone", "first_name", "country", "fbp")})
    pd.testing.assert_frame_equal(build_user_data(as_object), build_user_data(as_string))


def test_input_frame_is_not_modified():
    df = frame({"email": " A@B.co ", "fbclid": "abc", "phone": "0812 3456 7890"})
    before = df.copy()
    build_user_data(df)
    pd.testing.assert_frame_equal(df, before)


# ------------------------------------------------------------------------------------------------
# Properties

_HEX = re.compile(r"[0-9a-f]{64}")
TEXT_COLUMNS = ("email", "phone", "first_name", "last_name", "city", "state", "zip_code", "country",
                "gender", "default_country", "fbclid", "fbc", "fbp", "client_ip", "client_user_agent",
                "meta_lead_id")  # fmt: skip

_AWKWARD = ["", " ", "\x00", "\ud800", "ID", "US", "0812-3456-7890", "a@b.co", "fb.1.1.2", "1.2.3.4",
            "x" * 5000, "+" * 2000, "ä" * 1200]  # fmt: skip
_wild_text = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.lists(st.integers(0, 0x10FFFF), max_size=20).map(lambda cps: "".join(map(chr, cps))),  # surrogates too
    st.sampled_from(_AWKWARD),
)


@st.composite
def wild_frames(draw):
    n = draw(st.integers(1, 6))
    data = {c: draw(st.lists(_wild_text, min_size=n, max_size=n)) for c in TEXT_COLUMNS}
    dates = st.one_of(st.none(), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)))
    data["date_of_birth"] = draw(st.lists(dates, min_size=n, max_size=n))
    data["lead_id"] = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n))
    data["lead_created_at"] = draw(
        st.lists(
            st.one_of(st.none(), st.datetimes(dt.datetime(1970, 1, 2), dt.datetime(2200, 1, 1))),
            min_size=n,
            max_size=n,
        )
    )
    df = pd.DataFrame(data)
    df["lead_created_at"] = pd.to_datetime(df["lead_created_at"]).dt.tz_localize("UTC")
    return df


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wild_frames())
def test_never_raises_and_outputs_are_well_formed(df):
    out = build_user_data(df)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert out.index.equals(df.index)
    for column in HASHED_COLUMNS:
        for value in out[column]:
            assert value is None or (isinstance(value, str) and _HEX.fullmatch(value)), (column, value)
    for column in PLAIN_COLUMNS:
        for value in out[column]:
            assert value is None or (isinstance(value, str) and value and len(value) <= 1100), (column, value)
    # Rows are independent: normalising one row alone gives the same as within the batch.
    for i in range(len(df)):
        alone = build_user_data(df.iloc[[i]])
        assert alone.iloc[0].tolist() == out.iloc[i].tolist()
    # Deterministic.
    pd.testing.assert_frame_equal(build_user_data(df), out)


@pytest.mark.parametrize("country", ["US", "us", "United States", " united states of america ", "USA"])
def test_a_national_phone_gets_the_calling_code_of_the_leads_own_country(country):
    # An Indonesian workspace (default ID) with a US lead: not 62 650..., which matches nobody.
    assert field("ph", phone="(650) 253-0000", country=country, default_country="ID") == h("16502530000")


def test_a_phone_without_the_leads_country_gets_the_workspace_default():
    df = frame({"phone": "0812-3456-7890"}, {"phone": "0812-3456-7890", "country": "Atlantis"},
               {"phone": "(650) 253-0000", "country": "US"})  # fmt: skip
    assert build_user_data(df)["ph"].tolist() == [h("6281234567890"), h("6281234567890"), h("16502530000")]


@pytest.mark.parametrize("phone", ["+62 812-3456-7890", "0062 812 3456 7890"])
def test_a_phone_written_with_its_calling_code_keeps_it_whatever_the_leads_country(phone):
    assert field("ph", phone=phone, country="United States", default_country="ID") == h("6281234567890")


def test_a_pre_hashed_country_leaves_the_phone_to_the_workspace_default():
    df = frame({"phone": "0812-3456-7890", "country": h("us")}, {"phone": "(650) 253-0000", "country": "US"})
    assert build_user_data(df)["ph"].tolist() == [h("6281234567890"), h("16502530000")]
