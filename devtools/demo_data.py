"""Realistic Konektor data for the demo, the tests and the benchmark: messy Indonesian phones and
emails, Click-to-WhatsApp leads on several numbers and WABAs, two workspaces, several pixels.

Vectorised with numpy and loaded with COPY, so a million status changes take seconds, not minutes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg2

from konektor_capi import sql

WORKSPACES = pd.DataFrame(
    {
        "id": [1, 2],
        "name": ["Toko Maju Jaya", "Klinik Sehat Sentosa"],
        "default_country": ["ID", "ID"],
        "default_currency": ["IDR", "IDR"],
        "lead_source_name": ["Konektor", "Konektor Qontak"],
    }
)
# pixel_id, workspace, token, WABA, test code, enabled
PIXELS = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5],
        "workspace_id": [1, 1, 2, 2, 2],
        "pixel_id": ["1111111111111111", "2222222222222222", "3333333333333333", "4444444444444444",
                     "5555555555555555"],
        "capi_access_token": ["EAAdemoTokenAlpha111", "EAAdemoTokenBravo222", "EAAdemoTokenCharlie333", None,
                              "EAAdemoTokenEcho555"],
        "whatsapp_business_account_id": ["100000000000001", None, " 300000000000003 ", None, None],
        "test_event_code": [None, "TEST12345", None, None, None],
        "enabled": [True, True, True, True, False],
    }
)  # fmt: skip
SESSIONS = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5],
        "workspace_id": [1, 1, 1, 2, 2],
        "phone_number": ["+62 812-1111-2222", "0813 3333 4444", "6281555566666", "+62 811-0000-1111",
                         "0821 7777 8888"],
        "whatsapp_business_account_id": ["100000000000011", "100000000000012", None, "300000000000031", None],
        "provider": ["qiscus", "qontak", "qontak", "qiscus", "qontak"],
    }
)  # fmt: skip
# How agents type the session numbers on leads, plus one number with no session at all.
AGENT_PHONES = {
    1: ["081211112222", "+62 812 1111 2222", "0813-3333-4444", "0815 5556 6666", "0899 0000 0000"],
    2: ["+62 811 0000 1111", "082177778888", "0856 1234 0000"],
}
FIRST = [
    "Budi",
    "Siti",
    "Agus",
    "Dewi",
    "Rina",
    "Andi",
    "Putri",
    "Joko",
    "Ayu",
    "Rizky",
    "Nur",
    "Fajar",
    "Maria",
    "Hendra",
    "Wulan",
    "Yusuf",
    "Lestari",
    "Bambang",
    "Intan",
    "Dimas",
]
LAST = [
    "Santoso",
    "Wijaya",
    "Saputra",
    "Lestari",
    "Hidayat",
    "Kusuma",
    "Pratama",
    "Nugroho",
    "Siregar",
    "Simanjuntak",
    "O'Neil",
    "Setiawan",
    "Halim",
    "Tanjung",
    "Gunawan",
]
CITIES = ["Jakarta", "Jakarta Selatan", "Surabaya", "Bandung", "Medan", "Yogyakarta", "Denpasar", "Makassar"]
STATES = ["DKI Jakarta", "Jawa Timur", "Jawa Barat", "Sumatera Utara", "DI Yogyakarta", "Bali"]
COUNTRIES = ["Indonesia", "ID", "id", "", None, "Indonesia ", "IDN"]
DOMAINS = ["gmail.com", "Gmail.com", "yahoo.co.id", "outlook.com", "konektor.id"]
UAS = [
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
LANDING = [
    "https://tokomaju.id/promo?utm_source=fb",
    "https://kliniksehat.co.id/konsultasi",
    "tokomaju.id/landing",
]  # the last one is no URL Meta takes: those go as CRM events


@dataclass(frozen=True)
class Seeded:
    leads: int
    changes: int


def apply_schemas(conn) -> None:
    with conn.cursor() as cur:
        cur.execute(sql.load("konektor_source_schema"))
        cur.execute(sql.load("pipeline_schema"))
    conn.commit()


def _copy(cur, table: str, frame: pd.DataFrame) -> None:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False, na_rep="\\N", sep="\t", lineterminator="\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT text)", buf)


def _pick(rng: np.random.Generator, pool: list, n: int) -> np.ndarray:
    return np.array(pool, dtype=object)[rng.integers(0, len(pool), n)]


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    body = rng.integers(10**8, 10**9, n).astype(str)
    prefix = _pick(rng, ["812", "813", "821", "857", "878"], n)
    digits = prefix + body
    style = rng.integers(0, 7, n)
    out = np.where(style == 0, "0" + digits, "")
    out = np.where(
        style == 1,
        "+62 " + pd.Series(digits).str.replace(r"(\d{3})(\d{4})(\d+)", r"\1-\2-\3", regex=True).to_numpy(),
        out,
    )
    out = np.where(style == 2, "62" + digits, out)
    out = np.where(style == 3, "0062 " + digits, out)
    out = np.where(
        style == 4,
        "(0" + pd.Series(digits).str[:3].to_numpy() + ") " + pd.Series(digits).str[3:].to_numpy(),
        out,
    )
    out = np.where(style == 5, "0" + digits, out)
    out = np.where(style == 6, _pick(rng, ["12345", "n/a", "", "+62"], n), out)  # garbage people type
    return out.astype(object)


def generate_leads(n_leads: int, now: datetime, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_leads + 1)
    ws = np.where(rng.random(n_leads) < 0.6, 1, 2)
    first = _pick(rng, FIRST, n_leads)
    last = _pick(rng, LAST, n_leads)
    local = (
        pd.Series(first).str.lower()
        + "."
        + pd.Series(last).str.lower().str.replace("'", "")
        + pd.Series(rng.integers(1, 5000, n_leads).astype(str))
    )
    emails = ("  " + local.str.title() + "@" + pd.Series(_pick(rng, DOMAINS, n_leads)) + " ").to_numpy()
    email_style = rng.random(n_leads)
    emails = np.where(email_style < 0.08, None, emails)
    emails = np.where((email_style >= 0.08) & (email_style < 0.12), local.to_numpy() + "(at)gmail", emails)
    ctwa = rng.random(n_leads) < 0.10
    agent = np.empty(n_leads, dtype=object)
    for w, pool in AGENT_PHONES.items():
        mask = ws == w
        agent[mask] = _pick(rng, pool, int(mask.sum()))
    website = ~ctwa & (rng.random(n_leads) < 0.45)
    created = now - pd.to_timedelta(rng.integers(7 * 86400, 8 * 86400, n_leads), unit="s")
    clicks = pd.Series(rng.integers(10**12, 10**13, n_leads).astype(str)).to_numpy()
    fbclid = np.where(website & (rng.random(n_leads) < 0.5), "IwAR" + clicks + "xYz", None)
    dob_ok = rng.random(n_leads) < 0.3
    dob = pd.to_datetime("1970-01-01") + pd.to_timedelta(rng.integers(0, 12000, n_leads), unit="D")
    gender = _pick(rng, ["L", "P", "male", "Female", "", None, "x"], n_leads)
    return pd.DataFrame(
        {
            "id": ids,
            "workspace_id": ws,
            "status": "new",
            "email": emails,
            "phone": _phones(rng, n_leads),
            "first_name": first,
            "last_name": last,
            "city": _pick(rng, CITIES, n_leads),
            "state": _pick(rng, STATES, n_leads),
            "zip_code": rng.integers(10000, 99999, n_leads).astype(str),
            "country": _pick(rng, COUNTRIES, n_leads),
            "gender": gender,
            "date_of_birth": np.where(dob_ok, dob.strftime("%Y-%m-%d"), None),
            "agent_phone": np.where(ctwa | (rng.random(n_leads) < 0.3), agent, None),
            "ctwa_clid": np.where(ctwa, "ARAkLk" + pd.Series(rng.integers(10**9, 10**10, n_leads).astype(str))
                                  .to_numpy() + "_CtWa", None),
            "fbclid": fbclid,
            "fbp": np.where(website, "fb.1.1732000000000." + pd.Series(rng.integers(10**9, 10**10, n_leads)
                                                                       .astype(str)).to_numpy(), None),
            "client_ip": np.where(website, "103.47." + pd.Series(rng.integers(0, 255, n_leads).astype(str))
                                  .to_numpy() + ".12", None),
            "client_user_agent": np.where(website, _pick(rng, UAS, n_leads), None),
            "landing_page_url": np.where(website, _pick(rng, LANDING, n_leads), None),
            "deal_value": np.round(rng.integers(150, 25000, n_leads) * 1000.0, 2),
            "deal_currency": _pick(rng, ["IDR", None, "idr", "USD"], n_leads),
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        }
    )  # fmt: skip


def generate_changes(
    leads: pd.DataFrame, now: datetime, seed: int = 11, max_age_days: float = 6.5
) -> pd.DataFrame:
    """Up to four transitions per lead (new -> qualified -> won / lost / resubscribed)."""
    rng = np.random.default_rng(seed)
    n = len(leads)
    steps = []
    base = now - pd.to_timedelta(rng.integers(120, int(max_age_days * 86400), n), unit="s")
    depth = rng.choice([1, 2, 3, 4], size=n, p=[0.45, 0.3, 0.2, 0.05])
    ends = _pick(rng, ["won", "won", "lost", "resubscribed"], n)
    for step, status in ((0, "new"), (1, "qualified"), (2, None), (3, "lost")):
        mask = depth > step
        to_status = np.full(int(mask.sum()), status, dtype=object) if status else ends[mask]
        at = base[mask] + pd.to_timedelta(step * 600 + rng.integers(0, 60, int(mask.sum())), unit="s")
        at = at.where(at < now, now - pd.Timedelta(seconds=1))
        steps.append(pd.DataFrame({"lead_id": leads["id"].to_numpy()[mask], "to_status": to_status,
                                   "changed_at": at}))  # fmt: skip
    changes = pd.concat(steps, ignore_index=True).sort_values(["changed_at", "lead_id"], kind="stable")
    changes["from_status"] = None
    browser = rng.random(len(changes)) < 0.05
    changes["event_id"] = np.where(
        browser, "web-" + pd.Series(rng.integers(10**8, 10**9, len(changes)).astype(str)).to_numpy(), None
    )
    changes["changed_at"] = changes["changed_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return changes[["lead_id", "from_status", "to_status", "changed_at", "event_id"]]


def seed(
    dsn: str,
    *,
    n_leads: int,
    now: datetime,
    seed_value: int = 7,
    with_won_without_value: bool = True,
    max_age_days: float = 6.5,
) -> Seeded:
    """Creates the tables if needed and loads a fresh data set (the upstream tables are emptied first)."""
    leads = generate_leads(n_leads, now, seed_value)
    if with_won_without_value:
        leads.loc[leads.index % 37 == 0, "deal_value"] = None
    changes = generate_changes(leads, now, seed_value + 4, max_age_days)
    conn = psycopg2.connect(dsn)
    try:
        apply_schemas(conn)
        with conn.cursor() as cur:
            cur.execute(
                "TRUNCATE lead_status_changes, leads, whatsapp_sessions, meta_pixels, workspaces, "
                "sync_logs, sync_runs, sync_watermark RESTART IDENTITY CASCADE"
            )
            _copy(cur, "workspaces", WORKSPACES)
            _copy(cur, "meta_pixels", PIXELS)
            _copy(cur, "whatsapp_sessions", SESSIONS)
            _copy(cur, "leads", leads)
            _copy(cur, "lead_status_changes", changes)
            cur.execute("SELECT setval('meta_pixels_id_seq', 100), setval('whatsapp_sessions_id_seq', 100)")
            cur.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()
    return Seeded(leads=len(leads), changes=len(changes))


def pixel_tokens(dsn: str) -> dict[str, str]:
    """pixel_id -> token of every configured pixel: what the emulator must accept (dev tools only)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pixel_id, capi_access_token FROM meta_pixels "
                "WHERE coalesce(capi_access_token, '') <> ''"
            )
            return dict(cur.fetchall())
    finally:
        conn.close()


def now_utc() -> datetime:
    """The newest time a seeded status change may have: the start of the current hour.

    A run now covers its data interval, which ends at the start of this hour; a change seeded later
    would wait for the next hour's run, and a demo or benchmark run would seem to lose it.
    """
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def has_changes(dsn: str) -> bool:
    """Whether the database already holds Konektor's tables with some status change (dev tools only)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('lead_status_changes') IS NOT NULL")
            if not cur.fetchone()[0]:
                return False
            cur.execute("SELECT EXISTS (SELECT 1 FROM lead_status_changes)")
            return bool(cur.fetchone()[0])
    finally:
        conn.close()
