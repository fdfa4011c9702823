import numpy as np
import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from konektor_capi.phones import MAX_DIGITS, MIN_DIGITS, normalise_phones, normalise_phones_distinct

pytestmark = pytest.mark.unit


def one(raw, country="ID"):
    return normalise_phones(pd.Series([raw], dtype=object), pd.Series([country], dtype=object)).iloc[0]


@pytest.mark.parametrize(
    "raw",
    [
        "0812-3456-7890",
        "+62 812 3456 7890",
        "0062 812-3456-7890",
        "62 812 3456 7890",
        "(0812) 3456.7890",
        "081234567890",
        "6281234567890",
        "+6281234567890",
        "+62 (0)812 3456 7890",  # trunk 0 written after the calling code
        "62 0812 3456 7890",
        "812 3456 7890",  # national without the trunk 0
        "Tel: 0812 3456 7890 (WA)",
        "\t0812 3456 7890\n",
        "\uff10\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10",  # full-width digits
        "\u0660\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660",  # Arabic-Indic digits
        "\uff0b62 812 3456 7890",  # full-width plus
    ],
)
def test_indonesian_formats_become_one_international_number(raw):
    assert one(raw, "ID") == "6281234567890"


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("(415) 555-2671", "US", "14155552671"),
        ("1 415 555 2671", "US", "14155552671"),  # US trunk prefix is 1, same as the calling code
        ("+1 415 555 2671", "ID", "14155552671"),  # international wins over the default country
        ("0044 20 7946 0958", "ID", "442079460958"),
        ("020 7946 0958", "GB", "442079460958"),
        ("+44 (0)20 7946 0958", "ID", "442079460958"),
        ("8 916 123 45 67", "RU", "79161234567"),  # Russian trunk prefix is 8
        ("06 1234 5678", "IT", "390612345678"),  # Italy has no trunk prefix: the 0 stays
        ("012-345 6789", "MY", "60123456789"),
        ("0812 3456 7890", "id", "6281234567890"),  # default country is case-insensitive
        (" ID ", "ID", None),  # letters only: no digits at all
    ],
)
def test_other_countries_and_defaults(raw, country, expected):
    assert one(raw, country) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "-",
        "n/a",
        "0812",  # too short
        "0812 345",  # national part shorter than Indonesia allows
        "+0812 3456 7890",  # no calling code starts with 0
        "+999 1234 5678",  # unassigned calling code
        "+683 7012",  # a real Niue number, but shorter than the 8 digits we accept
        "+62 812 3456 7890 1234 5678",  # more than 15 digits
        "0812-1111-2222 / 0813-3333-4444",  # two numbers
        "0812+3456789",  # '+' after the first digit
        "0" * 60,
        "0812 3456 7890" + " " * 2000,  # over the input length limit
    ],
)
def test_invalid_or_empty_numbers_give_none_not_empty_string(raw):
    assert one(raw) is None


def test_local_number_needs_a_known_default_country_but_international_does_not():
    raw = pd.Series(["0812 3456 7890", "+62 812 3456 7890", "0812 3456 7890", "0812 3456 7890"])
    countries = pd.Series(["ID", None, "XX", "MY"])
    assert normalise_phones(raw, countries).tolist() == [
        "6281234567890",
        "6281234567890",
        None,
        None,  # 81234567890 is longer than any Malaysian national number
    ]


def test_default_country_is_per_row():
    raw = pd.Series(["0812 3456 7890"] * 2 + ["012 345 6789"] * 2)
    countries = pd.Series(["ID", "US", "MY", "ID"])
    out = normalise_phones(raw, countries)
    assert out.tolist() == [
        "6281234567890",
        None,  # 0812... is not a US number
        "60123456789",
        "62123456789",
    ]


def test_scalar_default_country_and_index_name_and_dtype_are_kept():
    raw = pd.Series({"a": "0812 3456 7890", "b": None, "c": "junk"}, name="phone")
    out = normalise_phones(raw, "ID")
    assert out.index.tolist() == ["a", "b", "c"]
    assert out.name == "phone"
    assert out.dtype == object
    assert out.tolist() == ["6281234567890", None, None]


def test_string_dtype_input_gives_the_same_result_as_object():
    values = ["0812-3456-7890", None, "+1 415 555 2671", "x"]
    a = normalise_phones(pd.Series(values, dtype=object), "ID")
    b = normalise_phones(pd.Series(values, dtype="str"), "ID")
    assert a.tolist() == b.tolist()


def test_numbers_stored_as_numbers_are_read_as_digits():
    raw = pd.Series([6281234567890, 6281234567890.0, np.nan], dtype=object)
    assert normalise_phones(raw, "ID").tolist() == ["6281234567890", "6281234567890", None]


def test_empty_series():
    out = normalise_phones(pd.Series([], dtype=object), pd.Series([], dtype=object))
    assert out.empty and out.dtype == object


def test_default_country_must_align_with_raw():
    with pytest.raises(ValueError, match="rows"):
        normalise_phones(pd.Series(["0812 3456 7890"] * 2), pd.Series(["ID"]))


def test_distinct_form_maps_every_row_to_one_entry_per_distinct_pair():
    raw = pd.Series(["0812 3456 7890", "0812 3456 7890", None, "0812 3456 7890"])
    countries = pd.Series(["ID", "ID", "ID", "MY"])
    codes, numbers = normalise_phones_distinct(raw, countries)
    assert codes[0] == codes[1] != codes[3]
    assert codes[2] == -1
    assert len(numbers) == 2
    assert numbers[codes[0]] == "6281234567890"


# libphonenumber's own example numbers are the oracle: every region, mobile and fixed line, in E.164,
# international and national format (national read with that region as default) must come out as
# the E.164 digits. Known, accepted exceptions:
#  - numbers under MIN_DIGITS digits (Niue, Tristan da Cunha, Tokelau): rejected on purpose;
#  - Argentina's national mobile form (trunk 0, area code, then carrier "15") and Belarus's "8 0xx"
#    national form need libphonenumber's full parsing rules.
_KNOWN_NATIONAL_GAPS = {"AR", "BY"}


def _examples():
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)[1:]
            if len(e164) < MIN_DIGITS:
                continue
            for fmt in (PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL):
                if fmt == PhoneNumberFormat.NATIONAL and region in _KNOWN_NATIONAL_GAPS:
                    continue
                yield region, phonenumbers.format_number(example, fmt), e164


def test_libphonenumber_example_numbers_of_every_region():
    rows = list(_examples())
    assert len(rows) > 1300
    regions = pd.Series([r for r, _, _ in rows])
    raw = pd.Series([t for _, t, _ in rows])
    out = normalise_phones(raw, regions).tolist()
    mismatches = [(r, t, e, o) for (r, t, e), o in zip(rows, out, strict=True) if o != e]
    assert mismatches == []
    # and read from a workspace in another country, the international forms still come out right
    intl = [(t, e) for _, t, e in rows if t.startswith("+")]
    out = normalise_phones(pd.Series([t for t, _ in intl]), "ID").tolist()
    assert out == [e for _, e in intl]


_any_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789 +-().", max_size=30),
    st.lists(st.integers(0, 0x10FFFF), max_size=30).map(lambda cps: "".join(map(chr, cps))),
    st.integers(0, 10**20).map(str),
    st.just("\ud800 0812 3456 7890"),
    st.just("1" * 5000),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.none(), _any_text), max_size=20),
    st.sampled_from(["ID", "US", "IT", "RU", "XX", None]),
)
def test_output_is_none_or_8_to_15_ascii_digits(values, country):
    out = normalise_phones(pd.Series(values, dtype=object), country)
    assert len(out) == len(values)
    for number in out:
        assert number is None or (
            number.isascii() and number.isdigit() and MIN_DIGITS <= len(number) <= MAX_DIGITS
        )
        assert number is None or not number.startswith("0")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), _any_text), min_size=1, max_size=20), st.sampled_from(["ID", "US"]))
def test_output_is_stable_international_form(values, country):
    out = normalise_phones(pd.Series(values, dtype=object), country)
    # A number we produced, given back with a '+', is unchanged, whatever the default country.
    again = normalise_phones(pd.Series(["+" + n if n else None for n in out], dtype=object), "XX")
    assert again.tolist() == out.tolist()
    # Each row's result does not depend on the other rows (distinct-value mapping is per row).
    for value, number in zip(values, out, strict=True):
        assert one(value, country) == number
