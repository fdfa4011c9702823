"""The health page's HTML: konektor_capi.health's numbers in a Jinja template (autoescaped)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from konektor_capi.health import Health
from konektor_capi.report import STATUSES
from konektor_capi_health.app import DAG_ID
from konektor_capi_health.chart import hourly_svg


@cache
def _env() -> Environment:
    loader = FileSystemLoader(Path(__file__).with_name("templates"))
    return Environment(loader=loader, autoescape=select_autoescape(default=True), trim_blocks=True,
                       lstrip_blocks=True)  # fmt: skip


def render(health: Health, *, airflow_base: str, json_url: str) -> str:
    today = health.today()
    keys = sorted({k for c in health.match_keys or [] for k in c.keys})
    return _env().get_template("health.html").render(
        h=health, statuses=STATUSES, today=today, week=health.totals(), dag_id=DAG_ID,
        today_total={s: sum(c[s] for c in today.values()) for s in STATUSES}, match_keys=keys,
        chart=hourly_svg(health.hourly, health.since, health.until), airflow_base=airflow_base,
        json_url=json_url,
    )  # fmt: skip
