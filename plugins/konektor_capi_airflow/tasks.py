"""Task bodies: turn an Airflow context into calls of the core, and the core's results into logs.

Every task reads and checks the connections it uses before it reads or sends anything, so a wrong
connection fails the task at once with a message naming the connection and the field.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowFailException

from konektor_capi.config_error import ConfigError
from konektor_capi.connection_settings import MetaCapiSettings
from konektor_capi.db import make_engine
from konektor_capi.graph_client import GraphApiClient
from konektor_capi.pipeline import Group, finish_run, plan_groups, sync_group
from konektor_capi.report import format_group_summary, format_summary
from konektor_capi.runs import RunSpec, open_run, run_request
from konektor_capi_airflow.connections import konektor_db_url
from konektor_capi_airflow.hooks import MetaCapiHook, mask_secret

log = logging.getLogger(__name__)

# Their INFO lines (about 200 per sync task from Great Expectations' context set-up) bury ours; their
# warnings and errors still show.
NOISY_LOGGERS = ("great_expectations",)


def quiet_third_party_logs() -> None:
    """Raises the noisy namespaces to WARNING, including their loggers that set a level of their own:
    Great Expectations sets INFO on one when it is imported, so it is imported here (the sync task
    imports it anyway) between two passes."""
    _raise_levels()
    importlib.import_module("great_expectations.data_context.types.base")
    _raise_levels()


def _raise_levels() -> None:
    prefixes = tuple(f"{name}." for name in NOISY_LOGGERS)
    for name in [n for n in logging.root.manager.loggerDict if n.startswith(prefixes)] + list(NOISY_LOGGERS):
        logging.getLogger(name).setLevel(logging.WARNING)


class PixelSyncFailed(RuntimeError):
    """Some events of a group failed transiently: the task fails so Airflow retries the group."""


class PixelSyncRefused(AirflowFailException):
    """Meta refused a token, a permission, a pixel or data: no Airflow retry can heal it, so the task
    fails at once (no retry delay holding up the hourly runs) and waits for a person to clear it."""


class ConnectionUnusable(AirflowFailException):
    """A connection that is missing or makes no sense: waiting cannot fix it, so no Airflow retry."""


def _connections() -> tuple[sa.URL, MetaCapiSettings]:
    """Both connections, checked."""
    try:
        return konektor_db_url(), MetaCapiHook().get_settings()
    except ConfigError as exc:
        raise ConnectionUnusable(str(exc)) from exc


@contextmanager
def _konektor_db(url: sa.URL) -> Iterator[sa.Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def open_run_task(context) -> dict:
    # The run's first task checks both connections, so a wrong one fails the run before any work.
    db_url, _ = _connections()
    dag_run = context["dag_run"]
    request = run_request(
        context.get("params"),
        str(getattr(dag_run, "run_type", "") or ""),
        context.get("data_interval_start"),
        context.get("data_interval_end") or context.get("logical_date"),
        datetime.now(UTC),
    )
    with _konektor_db(db_url) as engine:
        run = open_run(engine, dag_run.run_id, **request)
    log.info("run %s (%s): window %s .. %s", run.run_id, run.mode, run.window_start, run.window_end)
    return run.to_dict()


def plan_task(run: dict) -> list[dict]:
    db_url, meta = _connections()
    spec = RunSpec.from_dict(run)
    with _konektor_db(db_url) as engine:
        groups = plan_groups(engine, spec, meta.mapping)
    pending = sum(g.pending for g in groups)
    log.info("%d group(s) with %d unfinished (change, pixel) pair(s)", len(groups), pending)
    return [g.to_dict() for g in groups]


def lease_wait_seconds() -> float | None:
    """KONEKTOR_LEASE_WAIT_SECONDS of the deployment (None: the core's default)."""
    raw = os.environ.get("KONEKTOR_LEASE_WAIT_SECONDS", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ConnectionUnusable(f"KONEKTOR_LEASE_WAIT_SECONDS must be a number of seconds >= 0, not {raw!r}")
    return seconds


def sync_group_task(run: dict, group: dict) -> dict:
    quiet_third_party_logs()
    lease_wait = lease_wait_seconds()
    db_url, meta = _connections()
    spec, grp = RunSpec.from_dict(run), Group.from_dict(group)
    client = GraphApiClient(meta.graph)
    try:
        with _konektor_db(db_url) as engine:
            result = sync_group(engine, client, spec, grp, meta.mapping, on_secret=mask_secret,
                                lease_wait=lease_wait, concurrency=meta.concurrency)  # fmt: skip
    finally:
        client.close()
    summary = result.to_dict()
    log.info("%s", format_group_summary(grp.label, summary, result.validation))
    if result.failed:
        message = f"{result.failed} event(s) of {grp.label} failed: {result.failure_summary()}"
        raise (PixelSyncFailed if result.heals_by_waiting else PixelSyncRefused)(message)
    return summary


def finish_run_task(run: dict) -> dict:
    db_url, meta = _connections()
    spec = RunSpec.from_dict(run)
    with _konektor_db(db_url) as engine:
        summary = finish_run(engine, spec, meta.mapping)
    log.info("run summary\n%s", format_summary(summary))
    if summary.get("failed") and not spec.dry_run:
        # A report: retrying it changes nothing (the sync tasks retry what can heal).
        raise PixelSyncRefused(f"{summary['failed']} event(s) of this run's window failed; see sync_logs")
    return {k: summary[k] for k in ("pairs", "recorded", "failed", "mode", "window_start", "window_end")}
