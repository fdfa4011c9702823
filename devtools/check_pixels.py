"""`make check-pixels`: can each enabled pixel's token read its pixel? One line per pixel, no tokens.

    <pixel_id>  OK  <pixel name>
    <pixel_id>  FAILED  <reason>

Databases and Graph API as `make sync` picks them: AIRFLOW_CONN_KONEKTOR_DB, else the embedded demo
database; AIRFLOW_CONN_META_CAPI, else the emulator started with the database's tokens registered.
The token checked is the one the sync would send with (the first enabled row of a pixel id).
Exit 0 when every pixel passes, 1 when one fails, 2 when the pixels cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

import psycopg2

from devtools import stack
from devtools.run_dag import DEMO_DB
from konektor_capi import sql
from konektor_capi.graph_client import GraphApiClient, GraphApiConfig
from konektor_capi.pixel_check import check_pixel


def enabled_pixels(dsn: str) -> list[tuple[str, str | None]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.load("enabled_pixels"))
            return [(str(pixel_id), token) for pixel_id, token in cur.fetchall()]
    finally:
        conn.close()


def graph_config() -> GraphApiConfig:
    """The meta_capi connection read the way the DAG and the Test button read it."""
    os.environ.setdefault("AIRFLOW_HOME", str(stack.AIRFLOW_HOME))
    from konektor_capi_airflow.hooks import MetaCapiHook

    return MetaCapiHook().get_config()


def check_all(pixels: list[tuple[str, str | None]], config: GraphApiConfig, out: TextIO) -> int:
    failed = 0
    client = GraphApiClient(config)
    try:
        for pixel_id, token in pixels:
            result = check_pixel(client, pixel_id, token)
            failed += not result.ok
            status = "OK" if result.ok else "FAILED"
            print(f"{pixel_id}  {status}  {result.message}", file=out, flush=True)
    finally:
        client.close()
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    db_uri = os.environ.get("AIRFLOW_CONN_KONEKTOR_DB") or stack.ensure_database(DEMO_DB)
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
    tokens = {pixel_id: token for pixel_id, token in pixels if token}
    with stack.graph_api(tokens) as (graph_conn, emulator):
        os.environ["AIRFLOW_CONN_META_CAPI"] = graph_conn
        config = graph_config()
        where = "the emulator" if emulator is not None else "AIRFLOW_CONN_META_CAPI"
        print(f"checking {len(pixels)} pixel(s) at {config.base_url} ({where})", file=sys.stderr)
        failed = check_all(pixels, config, sys.stdout)
    print(f"{len(pixels) - failed} OK, {failed} FAILED", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
