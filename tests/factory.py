"""Inserts exactly the Konektor rows a test needs, with sensible defaults for everything else."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import psycopg2

_lead_ids = itertools.count(1)

LEAD_DEFAULTS = {
    "status": "new", "email": "budi.santoso@example.com", "phone": "0812-3456-7890", "first_name": "Budi",
    "last_name": "Santoso", "city": "Jakarta", "state": None, "zip_code": "12190", "country": "Indonesia",
    "gender": "L", "date_of_birth": None, "agent_phone": None, "ctwa_clid": None, "fbclid": None, "fbc": None,
    "fbp": None, "client_ip": None, "client_user_agent": None, "landing_page_url": None, "meta_lead_id": None,
    "deal_value": None, "deal_currency": None,
}  # fmt: skip


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Konektor:
    """A handle on one test database's upstream tables."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True

    def close(self) -> None:
        self.conn.close()

    def execute(self, statement: str, params=None):
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None

    def workspace(
        self, id: int = 1, country: str = "ID", currency: str = "IDR", source: str = "Konektor"
    ) -> int:
        self.execute("INSERT INTO workspaces (id, name, default_country, default_currency, lead_source_name) "
                     "VALUES (%s, %s, %s, %s, %s)", (id, f"ws{id}", country, currency, source))  # fmt: skip
        return id

    def pixel(self, workspace_id: int, pixel_id: str, token: str | None = "tok", waba: str | None = None,
              test_event_code: str | None = None, enabled: bool = True) -> str:  # fmt: skip
        self.execute("INSERT INTO meta_pixels (workspace_id, pixel_id, capi_access_token, "
                     "whatsapp_business_account_id, test_event_code, enabled) VALUES (%s,%s,%s,%s,%s,%s)",
                     (workspace_id, pixel_id, token, waba, test_event_code, enabled))  # fmt: skip
        return pixel_id

    def session(self, workspace_id: int, phone: str, waba: str | None) -> None:
        self.execute(
            "INSERT INTO whatsapp_sessions (workspace_id, phone_number, whatsapp_business_account_id) "
            "VALUES (%s, %s, %s)",
            (workspace_id, phone, waba),
        )

    def lead(self, workspace_id: int, **fields) -> int:
        lead_id = fields.pop("id", None) or next(_lead_ids) + 10_000 * workspace_id
        row = {**LEAD_DEFAULTS, **fields, "id": lead_id, "workspace_id": workspace_id}
        cols = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        self.execute(f"INSERT INTO leads ({cols}) VALUES ({marks})", tuple(row.values()))
        return lead_id

    def change(self, lead_id: int, to_status: str, ago: timedelta = timedelta(minutes=30),
               event_id: str | None = None, at: datetime | None = None) -> int:  # fmt: skip
        changed_at = at or now() - ago
        rows = self.execute(
            "INSERT INTO lead_status_changes (lead_id, to_status, changed_at, event_id) "
            "VALUES (%s, %s, %s, %s) RETURNING id",
            (lead_id, to_status, changed_at, event_id),
        )
        return rows[0][0]

    def sync_logs(self) -> list[dict]:
        with self.conn.cursor() as cur:
            cur.execute("SELECT * FROM sync_logs ORDER BY status_change_id, pixel_id")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
