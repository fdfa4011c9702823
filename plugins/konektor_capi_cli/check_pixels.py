"""`konektor-capi check-pixels`: can each enabled pixel's token read its pixel? One line per (workspace,
pixel) row, since each workspace sends with its own token; never a token.

    workspace <id>  pixel <pixel_id>  OK  <pixel name>
    workspace <id>  pixel <pixel_id>  FAILED  <reason>

Exit 0 when every pixel passes, 1 when one fails, 2 when the pixels cannot be read or the command refuses.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from typing import TextIO

import psycopg2

from konektor_capi import sql
from konektor_capi.graph_client import GraphApiClient, GraphApiConfig
from konektor_capi.pixel_check import check_pixel
from konektor_capi_cli import targets
from konektor_capi_cli.stand_ins import Session


def enabled_pixels(dsn: str) -> list[tuple[int, str, str | None]]:
    """(workspace_id, pixel_id, token) of every enabled row."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.load("enabled_pixels"))
            return [(ws, str(pixel_id), token) for ws, pixel_id, token in cur.fetchall()]
    finally:
        conn.close()


def graph_config(session: Session) -> GraphApiConfig:
    """The meta_capi connection read the way the DAG and the Test button read it: through the hook."""
    os.environ.setdefault("AIRFLOW_HOME", str(session.airflow().home))
    from konektor_capi_airflow.hooks import MetaCapiHook

    return MetaCapiHook().get_config()


def check_all(pixels: list[tuple[int, str, str | None]], config: GraphApiConfig, out: TextIO) -> int:
    failed = 0
    client = GraphApiClient(config)
    try:
        for workspace_id, pixel_id, token in pixels:
            result = check_pixel(client, pixel_id, token)
            failed += not result.ok
            status = "OK" if result.ok else "FAILED"
            line = f"workspace {workspace_id}  pixel {pixel_id}  {status}  {result.message}"
            print(line, file=out, flush=True)
    finally:
        client.close()
    return failed


def check_pixels(session: Session, where: targets.Targets) -> int:
    db_uri = where.db_uri or session.stand_ins.database()
    try:
        pixels = enabled_pixels(db_uri)
    except psycopg2.Error as exc:  # the message names the database, never the DSN's password
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"cannot read meta_pixels: {first_line} (set AIRFLOW_CONN_KONEKTOR_DB, or run "
              "`make demo` to seed the demo database)", file=sys.stderr)  # fmt: skip
        return 2
    if not pixels:
        print("no enabled pixels in meta_pixels", file=sys.stderr)
        return 0
    tokens: dict[str, str] = {}
    for _, pixel_id, token in pixels:  # the emulator holds one token a pixel: the first row's
        if token:
            tokens.setdefault(pixel_id, token)
    graph = nullcontext((where.meta_conn, None)) if where.meta_conn else session.stand_ins.graph_api(tokens)
    with graph as (graph_conn, emulator_stats):
        os.environ["AIRFLOW_CONN_META_CAPI"] = graph_conn
        config = graph_config(session)
        endpoint = "the emulator" if emulator_stats is not None else "AIRFLOW_CONN_META_CAPI"
        print(f"checking {len(pixels)} pixel(s) at {config.base_url} ({endpoint})", file=sys.stderr)
        failed = check_all(pixels, config, sys.stdout)
    print(f"{len(pixels) - failed} OK, {failed} FAILED", file=sys.stderr)
    return 1 if failed else 0
