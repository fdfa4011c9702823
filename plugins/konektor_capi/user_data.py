"""Meta CAPI `user_data` from raw Konektor lead rows: normalised by Meta's rules, hashed where required.

Why it works the way it does:

* Each column is factorized and normalised + hashed once per DISTINCT value, then mapped back by
  code. Per-value Python (str methods, one compiled regex, hashlib) runs only over distinct
  values; nothing loops over rows. Columns that depend on another column (st and zp depend on the
  resolved country) are split by that column first.
* An invalid value drops only its own field (None), never the row: the rest still matches.
* Output is object dtype holding str or None, so the JSON builder drops missing keys with
  ``is None`` and nothing has to undo pandas' NaN.
* A value that is already 64 lowercase hex characters (after trim and lowercase) is taken as
  hashed and passed through, per Meta; for ``ph`` the same test runs before phone parsing.
* Free text over 1000 characters is dropped: no name, city or user agent is that long, and it
  bounds the work an abusive row can cause.

Field rules (Meta's "Customer Information Parameters"; where they leave room, the choice and why):

* em: trim, lowercase, must look like ``local@domain.tld`` and be at most 254 characters.
* ph: see konektor_capi.phones. A national number gets the calling code of the lead's own country
  (``country``, a code or a name), else of the workspace's default country; a number written with
  ``+`` or ``00`` keeps its own code.
* fn, ln, ct: NFC, lowercase, keep only letters and combining marks (Unicode L* and M*). Meta asks
  for no punctuation and UTF-8 for non-Latin scripts; we also drop spaces and digits, so
  'Mary-Ann', 'Mary Ann' and 'MaryAnn' all give 'maryann' and 'Siti Nur-Aisyah' gives
  'sitinuraisyah'. Marks are kept because Thai, Devanagari or decomposed Latin names need them.
* st: for US leads, a state name becomes its 2-letter code ('California' -> 'ca'); otherwise the
  same rule as ct ('DKI Jakarta' -> 'dkijakarta'). Meta only defines codes for the US.
* zp: lowercase, only letters and digits (no spaces or dashes); US leads keep the first 5 digits
  and a US zip that does not start with 5 digits is dropped.
* country: ISO 3166-1 alpha-2, lowercase. Accepts alpha-2, alpha-3, and country names in English,
  Indonesian and Malay (from libphonenumber's locale data, a runtime dependency) plus a few
  aliases; unknown or empty falls back to the workspace's default country. The alpha-3 table was
  generated from pycountry 26.2.16 (a runtime dependency since for currencies; the table stays, as
  importing pycountry's database for every page costs more than these 249 pairs).
* ge: f/female/perempuan/wanita -> f; m/male/laki-laki/pria/l -> m; anything else dropped.
* db: YYYYMMDD; dropped before 1900 or after today (UTC).
* external_id: sha256 of the Konektor lead id as a decimal string.
* fbc: kept as given if it is ``fb.<subdomain index 0, 1 or 2>.<digits>.<printable ASCII>`` (a cookie
  set on ``example.co.id`` is ``fb.2.``, one on ``com`` ``fb.0.``). Only where no usable fbc is given is
  one built from fbclid (case kept) as ``fb.1.<lead_created_at in epoch ms>.<fbclid>``: the cookie
  holds the real click time, the lead's creation only approximates it. fbclid must be URL-safe
  base64-ish (letters, digits, '_' and '-'), so a mangled landing URL does not produce a junk fbc.
* fbp: kept if it is ``fb.<0, 1 or 2>.<digits>.<digits>``, with or without an appendix after a
  further dot (``fb.1.1596403881668.1116446470.AQ``).
* client_ip_address: trimmed, kept only if it is a valid IPv4 or IPv6 address (as written, not
  canonicalised). Meta rejects a whole batch for one invalid parameter, so a bad IP must not
  reach it.
* client_user_agent: trimmed, never hashed.
* lead_id: the Meta Lead Ads id (meta_lead_id), digits only, 1 to 20 of them, unhashed.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from konektor_capi.hashing import factorize_text, hash_bytes, hash_distinct, is_hashed, take
from konektor_capi.phones import normalise_factorized_phones

__all__ = ["build_user_data", "INPUT_COLUMNS", "OUTPUT_COLUMNS", "HASHED_COLUMNS"]

INPUT_COLUMNS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "state",
    "zip_code",
    "country",
    "gender",
    "date_of_birth",
    "lead_id",
    "default_country",
    "fbclid",
    "fbc",
    "fbp",
    "client_ip",
    "client_user_agent",
    "lead_created_at",
    "meta_lead_id",
)
HASHED_COLUMNS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "ge", "db", "external_id")
OUTPUT_COLUMNS = HASHED_COLUMNS + ("fbc", "fbp", "client_ip_address", "client_user_agent", "lead_id")

MAX_TEXT = 1000
MAX_EMAIL = 254

# An address (local@domain.tld, no spaces) or an already-hashed value. Possessive quantifiers:
# nothing to backtrack into, measurably faster on a million addresses.
_EMAIL_OR_HASH = re.compile(r"[0-9a-f]{64}|[^\s@]++@[^\s@.]++(?:\.[^\s@.]++)++")
# ASCII characters that are not letters (digits, whitespace, punctuation, symbols, controls).
_ASCII_NON_LETTERS = re.compile(r"[\x00-\x40\x5b-\x60\x7b-\x7f]+")
_NON_ALNUM = re.compile(r"[\W_]+")
_NON_AZ = re.compile(r"[^a-z]+")
_US_ZIP = re.compile(r"[0-9]{5}")
# Meta's subdomain index is 0, 1 or 2; the value is printable ASCII, no spaces (a cookie value).
_FBC = re.compile(r"fb\.[012]\.[0-9]+\.[!-~]+")
_FBP = re.compile(r"fb\.[012]\.[0-9]+\.[0-9]+(?:\.[!-~]+)?")
_FBCLID = re.compile(r"[A-Za-z0-9_-]+")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
_META_LEAD_ID = re.compile(r"[0-9]{1,20}")

_GENDERS = {
    "f": "f",
    "female": "f",
    "perempuan": "f",
    "wanita": "f",
    "p": "f",  # Indonesian forms: L (laki-laki) / P (perempuan)
    "m": "m",
    "male": "m",
    "lakilaki": "m",
    "pria": "m",
    "l": "m",
}

# ISO 3166-1 alpha-3 + alpha-2 pairs (generated from pycountry 26.2.16; 249 countries).
_ISO_ALPHA3_ALPHA2 = """
ABWAW AFGAF AGOAO AIAAI ALAAX ALBAL ANDAD AREAE ARGAR ARMAM ASMAS ATAAQ ATFTF ATGAG AUSAU AUTAT
AZEAZ BDIBI BELBE BENBJ BESBQ BFABF BGDBD BGRBG BHRBH BHSBS BIHBA BLMBL BLRBY BLZBZ BMUBM BOLBO
BRABR BRBBB BRNBN BTNBT BVTBV BWABW CAFCF CANCA CCKCC CHECH CHLCL CHNCN CIVCI CMRCM CODCD COGCG
COKCK COLCO COMKM CPVCV CRICR CUBCU CUWCW CXRCX CYMKY CYPCY CZECZ DEUDE DJIDJ DMADM DNKDK DOMDO
DZADZ ECUEC EGYEG ERIER ESHEH ESPES ESTEE ETHET FINFI FJIFJ FLKFK FRAFR FROFO FSMFM GABGA GBRGB
GEOGE GGYGG GHAGH GIBGI GINGN GLPGP GMBGM GNBGW GNQGQ GRCGR GRDGD GRLGL GTMGT GUFGF GUMGU GUYGY
HKGHK HMDHM HNDHN HRVHR HTIHT HUNHU IDNID IMNIM INDIN IOTIO IRLIE IRNIR IRQIQ ISLIS ISRIL ITAIT
JAMJM JEYJE JORJO JPNJP KAZKZ KENKE KGZKG KHMKH KIRKI KNAKN KORKR KWTKW LAOLA LBNLB LBRLR LBYLY
LCALC LIELI LKALK LSOLS LTULT LUXLU LVALV MACMO MAFMF MARMA MCOMC MDAMD MDGMG MDVMV MEXMX MHLMH
MKDMK MLIML MLTMT MMRMM MNEME MNGMN MNPMP MOZMZ MRTMR MSRMS MTQMQ MUSMU MWIMW MYSMY MYTYT NAMNA
NCLNC NERNE NFKNF NGANG NICNI NIUNU NLDNL NORNO NPLNP NRUNR NZLNZ OMNOM PAKPK PANPA PCNPN PERPE
PHLPH PLWPW PNGPG POLPL PRIPR PRKKP PRTPT PRYPY PSEPS PYFPF QATQA REURE ROURO RUSRU RWARW SAUSA
SDNSD SENSN SGPSG SGSGS SHNSH SJMSJ SLBSB SLESL SLVSV SMRSM SOMSO SPMPM SRBRS SSDSS STPST SURSR
SVKSK SVNSI SWESE SWZSZ SXMSX SYCSC SYRSY TCATC TCDTD TGOTG THATH TJKTJ TKLTK TKMTM TLSTL TONTO
TTOTT TUNTN TURTR TUVTV TWNTW TZATZ UGAUG UKRUA UMIUM URYUY USAUS UZBUZ VATVA VCTVC VENVE VGBVG
VIRVI VNMVN VUTVU WLFWF WSMWS YEMYE ZAFZA ZMBZM ZWEZW
"""
# Names people type that libphonenumber's locale data does not carry (keys: letters a-z only).
_COUNTRY_ALIASES = {
    "uk": "gb",
    "greatbritain": "gb",
    "britain": "gb",
    "england": "gb",
    "scotland": "gb",
    "wales": "gb",
    "northernireland": "gb",
    "unitedstatesofamerica": "us",
    "america": "us",
    "uae": "ae",
    "ksa": "sa",
    "southkorea": "kr",
    "republicofkorea": "kr",
    "korearepublicof": "kr",
    "northkorea": "kp",
    "russianfederation": "ru",
    "czechia": "cz",
    "turkiye": "tr",
    "ivorycoast": "ci",
    "northmacedonia": "mk",
    "eswatini": "sz",
    "caboverde": "cv",
    "macau": "mo",
    "easttimor": "tl",
    "burma": "mm",
    "bruneidarussalam": "bn",
    "vietnam": "vn",
    "holland": "nl",
    "drc": "cd",
    "democraticrepublicofthecongo": "cd",
    "republicofthecongo": "cg",
    "republicofindonesia": "id",
    "republikindonesia": "id",
}
_US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
    "colorado": "co", "connecticut": "ct", "delaware": "de", "districtofcolumbia": "dc",
    "washingtondc": "dc", "florida": "fl", "georgia": "ga", "hawaii": "hi", "idaho": "id",
    "illinois": "il", "indiana": "in", "iowa": "ia", "kansas": "ks", "kentucky": "ky",
    "louisiana": "la", "maine": "me", "maryland": "md", "massachusetts": "ma", "michigan": "mi",
    "minnesota": "mn", "mississippi": "ms", "missouri": "mo", "montana": "mt", "nebraska": "ne",
    "nevada": "nv", "newhampshire": "nh", "newjersey": "nj", "newmexico": "nm", "newyork": "ny",
    "northcarolina": "nc", "northdakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or",
    "pennsylvania": "pa", "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd",
    "tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va",
    "washington": "wa", "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy",
    "americansamoa": "as", "guam": "gu", "northernmarianaislands": "mp", "puertorico": "pr",
    "usvirginislands": "vi", "virginislands": "vi",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Normalisers. Each maps the list of DISTINCT non-null values of a column (as str) to a list of the
# same length holding the normalised str or None. The busy, high-cardinality columns (email, ip,
# cookies) are written as list comprehensions: a Python call per value is a measurable share of
# their cost. A 64-lowercase-hex result is passed through unhashed by hash_distinct.

Batch = Callable[[list[str]], list]


def _each(normalise: Callable[[str], str | None]) -> Batch:
    return lambda texts: [normalise(t) for t in texts]


def _emails(texts: list[str]) -> list:
    match = _EMAIL_OR_HASH.fullmatch
    values = [t.strip().lower() if len(t) <= MAX_TEXT else "" for t in texts]
    return [v if len(v) <= MAX_EMAIL and match(v) else None for v in values]


def _letters(text: str) -> str | None:
    """fn, ln, ct: lowercase letters and combining marks only."""
    if len(text) > MAX_TEXT:
        return None
    value = text.strip()
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    value = value.lower()
    if is_hashed(value):
        return value
    value = _ASCII_NON_LETTERS.sub("", value)
    if not value.isalpha():  # non-ASCII punctuation, symbols, marks: decide per character
        value = "".join(ch for ch in value if unicodedata.category(ch)[0] in "LM")
    return value or None


def _state_us(text: str) -> str | None:
    value = _letters(text)
    return None if value is None else _US_STATES.get(value, value)


def _zip(text: str) -> str | None:
    if len(text) > MAX_TEXT:
        return None
    value = text.strip().lower()
    if is_hashed(value):
        return value
    return _NON_ALNUM.sub("", value) or None


def _zip_us(text: str) -> str | None:
    value = _zip(text)
    if value is None or len(value) == 64:
        return value
    match = _US_ZIP.match(value)
    return match.group() if match else None


def _gender(text: str) -> str | None:
    if len(text) > MAX_TEXT:
        return None
    value = text.strip().lower()
    if is_hashed(value):
        return value
    return _GENDERS.get(_NON_AZ.sub("", value))


def _country_key(value: str) -> str:
    if not value.isascii():
        value = unicodedata.normalize("NFKD", value)
    return _NON_AZ.sub("", value.lower())


@cache
def _country_codes() -> dict[str, str]:
    table: dict[str, str] = {}
    for pair in _ISO_ALPHA3_ALPHA2.split():
        alpha2 = pair[3:].lower()
        table[pair[:3].lower()] = alpha2
        table[alpha2] = alpha2
    return table


@cache
def _country_names() -> dict[str, str]:
    from phonenumbers.geodata.locale import LOCALE_DATA  # ~0.4 s to import: only when needed

    codes = _country_codes()
    names = dict(_COUNTRY_ALIASES)
    for lang in ("en", "id", "ms"):  # English first: it wins a name shared with another language
        for region, by_lang in LOCALE_DATA.items():
            alpha2 = region.lower()
            if codes.get(alpha2) != alpha2:
                continue
            name = by_lang.get(lang, "")
            if name.startswith("*"):  # "*xx": same as language xx
                name = by_lang.get(name[1:], "")
            key = _country_key(name)
            if key:
                names.setdefault(key, alpha2)
    return names


def _country(text: str) -> str | None:
    """alpha-2 lowercase, a passed-through hash, or None when unknown."""
    if len(text) > MAX_TEXT:
        return None
    value = text.strip().lower()
    if is_hashed(value):
        return value
    key = _country_key(value)
    if not key:
        return None
    code = _country_codes().get(key) or _COUNTRY_ALIASES.get(key)
    if code is None and len(key) > 3:  # codes are 2-3 letters; names need the locale data
        code = _country_names().get(key)
    return code


def _default_country(text: str) -> str | None:
    value = text.strip().lower()
    return value if _country_codes().get(value) == value else None


def _date_of_birth(value: object, today: date) -> str | None:
    if isinstance(value, str):
        text = value.strip().lower()
        if is_hashed(text):
            return text
        try:
            value = date.fromisoformat(text)
        except ValueError:
            return None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, datetime):  # pd.Timestamp too; NaT never gets here (factorize drops it)
        value = value.date()
    if not isinstance(value, date) or value.year < 1900 or value > today:
        return None
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _external_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        return text if text.isdigit() and text.isascii() else None
    return None


def _matching(pattern: re.Pattern[str]) -> Batch:
    """Trimmed value if it fully matches `pattern` (and is not over MAX_TEXT), else None."""
    match = pattern.fullmatch

    def normalise(texts: list[str]) -> list:
        values = [t.strip() if len(t) <= MAX_TEXT else "" for t in texts]
        return [v if match(v) else None for v in values]

    return normalise


def _ipv6(value: str) -> str | None:
    if "%" in value:  # a zone index ('fe80::1%eth0') means nothing outside the client's network
        return None
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return None
    return value


def _ips(texts: list[str]) -> list:
    match = _IPV4.fullmatch
    values = [t.strip() if len(t) <= MAX_TEXT else "" for t in texts]
    return [v if match(v) else _ipv6(v) if ":" in v else None for v in values]


def _user_agents(texts: list[str]) -> list:
    return [(t.strip() or None) if len(t) <= MAX_TEXT else None for t in texts]


# ---------------------------------------------------------------------------------------------
# Column plumbing: factorize, normalise the distinct values, hash them, map back by code.


def _plain(values: pd.Series | np.ndarray, normalise: Batch) -> np.ndarray:
    codes, texts = factorize_text(values)
    return take(normalise(texts), codes)


def _hashed(values: pd.Series | np.ndarray, normalise: Batch) -> np.ndarray:
    codes, texts = factorize_text(values)
    return take(hash_distinct(normalise(texts)), codes)


def _hashed_objects(values: pd.Series, normalise: Callable[[object], str | None]) -> np.ndarray:
    """Like _hashed, but hands the normaliser the original objects (ints, dates), one at a time."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    objects = np.asarray(uniques, dtype=object).tolist()
    return take(hash_distinct([normalise(v) for v in objects]), codes)


def _hashed_by_country(values: pd.Series, is_us: np.ndarray, us: Batch, other: Batch) -> np.ndarray:
    """Hashed column whose rule differs for US leads (st, zp). Each distinct value is normalised
    only under the rule(s) of the rows that hold it."""
    codes, texts = factorize_text(values)
    if not is_us.any():
        return take(hash_distinct(other(texts)), codes)
    out = np.full(len(codes), None, dtype=object)
    for mask, normalise in ((is_us, us), (~is_us, other)):
        rows = codes[mask]
        used = np.unique(rows[rows >= 0])
        if used.size == 0:
            continue
        hashed = hash_distinct(normalise([texts[i] for i in used.tolist()]))
        position = np.full(len(texts) + 1, -1, dtype=np.intp)  # the extra last slot maps code -1
        position[used] = np.arange(used.size)
        out[mask] = take(hashed, position[rows])
    return out


def _hash_rows(values: np.ndarray) -> np.ndarray:
    """Hash an object array of normalised str/None (few distinct values) per distinct value."""
    codes, texts = factorize_text(values)
    return take(hash_distinct(texts), codes)


def _phones(phone: pd.Series, default_country: pd.Series | str) -> np.ndarray:
    raw_codes, texts = factorize_text(phone)
    codes, numbers = normalise_factorized_phones(raw_codes, texts, default_country, as_bytes=True)
    out = take(hash_bytes(numbers.tolist()), codes)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    if (lengths >= 64).any():  # pre-hashed phones pass through; the phone parser drops them
        pre_hashed = take([_prehashed(t) for t in texts], raw_codes)
        out = np.where(pd.isna(pre_hashed), out, pre_hashed)
    return out


def _prehashed(text: str) -> str | None:
    value = text.strip().lower()
    return value if is_hashed(value) else None


def _external_ids(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_integer_dtype(values.dtype):  # the usual bigint column: convert in numpy
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        return take(hash_bytes(np.asarray(uniques).astype("S20").tolist()), codes)
    return _hashed_objects(values, _external_id)


def _epoch_ms(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(epoch milliseconds as int64, valid mask) of a timestamp column; naive values are UTC."""
    stamps = pd.to_datetime(values, errors="coerce", utc=True)
    naive = stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ms]")
    ms = naive.astype(np.int64)
    return ms, ~np.isnat(naive) & (ms > 0)


def _fbcs(df: pd.DataFrame) -> np.ndarray:
    fbc = _plain(df["fbc"], _matching(_FBC))
    missing = np.flatnonzero(pd.isna(fbc))
    if missing.size == 0:
        return fbc
    fbclid = _plain(df["fbclid"].to_numpy(dtype=object)[missing], _matching(_FBCLID))
    has_click = ~pd.isna(fbclid)
    if not has_click.any():
        return fbc
    rows = missing[has_click]
    ms, has_time = _epoch_ms(df["lead_created_at"].iloc[rows])
    rows, ms, clicks = rows[has_time], ms[has_time], fbclid[has_click][has_time]
    if rows.size:
        built = np.strings.add(np.strings.add("fb.1.", ms.astype(StringDType())), ".")
        fbc[rows] = np.strings.add(built, clicks.astype(StringDType())).astype(object)
    return fbc


def _phone_regions(country: np.ndarray, default_country: pd.Series) -> pd.Series | str:
    """The region a national phone number belongs to: the lead's own country (code or name, as
    resolved for `country`), else the workspace's default (as written, for a default that is not a
    known code). One region for the whole frame, the usual case, spares the phone parser a pass."""
    codes, regions = factorize_text(country)
    known = np.array([len(r) == 2 for r in regions] + [False], dtype=bool)[codes]  # 64-hex: pre-hashed
    if known.all() and len(regions) == 1:
        return regions[0].upper()
    own = take([r.upper() for r in regions], codes)
    return pd.Series(np.where(known, own, default_country.to_numpy(dtype=object)), dtype=object)


def _today_utc() -> date:
    return datetime.now(UTC).date()


def build_user_data(df: pd.DataFrame) -> pd.DataFrame:
    """Meta user_data fields for each lead row: a new DataFrame on df's index with OUTPUT_COLUMNS.

    Hashed fields (HASHED_COLUMNS) are SHA-256 lowercase hex or None; fbc, fbp,
    client_ip_address, client_user_agent and lead_id are plain text or None. All columns are
    object dtype; a missing or invalid value is None. Raises KeyError when an input column of
    INPUT_COLUMNS is absent (a broken extract query, not bad data).
    """
    missing = [c for c in INPUT_COLUMNS if c not in df.columns]
    if missing:
        raise KeyError(f"build_user_data: input lacks columns {missing}")

    workspace_codes, workspace_countries = factorize_text(df["default_country"])
    default_country = take([_default_country(t) for t in workspace_countries], workspace_codes)
    lead_country = _plain(df["country"], _each(_country))
    country = np.where(pd.isna(lead_country), default_country, lead_country)
    is_us = country == "us"
    today = _today_utc()
    letters = _each(_letters)

    columns = {
        "em": _hashed(df["email"], _emails),
        "ph": _phones(df["phone"], _phone_regions(country, df["default_country"])),
        "fn": _hashed(df["first_name"], letters),
        "ln": _hashed(df["last_name"], letters),
        "ct": _hashed(df["city"], letters),
        "st": _hashed_by_country(df["state"], is_us, _each(_state_us), letters),
        "zp": _hashed_by_country(df["zip_code"], is_us, _each(_zip_us), _each(_zip)),
        "country": _hash_rows(country),
        "ge": _hashed(df["gender"], _each(_gender)),
        "db": _hashed_objects(df["date_of_birth"], lambda v: _date_of_birth(v, today)),
        "external_id": _external_ids(df["lead_id"]),
        "fbc": _fbcs(df),
        "fbp": _plain(df["fbp"], _matching(_FBP)),
        "client_ip_address": _plain(df["client_ip"], _ips),
        "client_user_agent": _plain(df["client_user_agent"], _user_agents),
        "lead_id": _plain(df["meta_lead_id"], _matching(_META_LEAD_ID)),
    }
    # copy=False twice: a consolidating copy of 16 object columns costs ~0.8 s per million rows.
    index = df.index
    return pd.DataFrame(
        {name: pd.Series(values, index=index, dtype=object, copy=False) for name, values in columns.items()},
        index=index,
        copy=False,
    )
