"""A real PostgreSQL server for the demo and the tests when no database URL is given (pgserver)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import quote

import psycopg2
from psycopg2 import sql as pgsql

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    # Under the temp dir, not the repo: pgserver runs postgres as an unprivileged user when we are root,
    # and that user must reach the folder. One folder per checkout, so two clones don't share a server.
    explicit = os.environ.get("KONEKTOR_PGDATA")
    if explicit:
        return Path(explicit)
    tag = hashlib.sha1(str(REPO).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"konektor-capi-sync-pg-{tag}"


def start() -> str:
    """Starts (or finds running) the embedded server; returns a libpq URI of its `postgres` database."""
    runtime = Path(tempfile.gettempdir()) / "konektor-capi-sync-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))  # pgserver keeps its lock file there
    import pgserver

    # Its exit hook logs after pytest has closed the streams; its info lines are noise for us anyway.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    server = pgserver.get_server(data_dir(), cleanup_mode=None)
    return server.get_uri()


def database_uri(server_uri: str, dbname: str) -> str:
    """The URI of another database on the same server (a Unix-socket URI keeps its ?host=)."""
    head, _, query = server_uri.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{quote(dbname)}" + (f"?{query}" if query else "")


def recreate_database(server_uri: str, dbname: str) -> str:
    conn = psycopg2.connect(server_uri)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(dbname)))
        cur.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(dbname)))
    conn.close()
    return database_uri(server_uri, dbname)


def sqlalchemy_url(libpq_uri: str) -> str:
    return libpq_uri.replace("postgresql://", "postgresql+psycopg2://", 1)
