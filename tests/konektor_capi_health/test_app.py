"""The health page's FastAPI app in process (Starlette's TestClient), on a real PostgreSQL.

Who may see it is Airflow's decision (get_user, the auth manager): proven here for anonymous requests,
and end to end with a real login in tests/devtools/test_deploy_health_page.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from konektor_capi.health import read_health
from konektor_capi_health.app import PREFIX, airflow_user, create_app, dag_reader
from tests.konektor_capi.test_health import A, B, log


def _refuse_db():
    raise AssertionError("an anonymous request must not reach the database")


def _mounted(app) -> TestClient:
    """As the API server mounts it: under PREFIX of a parent app."""
    parent = FastAPI()
    parent.mount(PREFIX, app)
    return TestClient(parent)


@pytest.mark.unit
def test_anonymous_requests_are_refused_before_anything_is_read():
    client = _mounted(create_app(engine_factory=_refuse_db))

    page = client.get(f"{PREFIX}/", follow_redirects=False)
    data = client.get(f"{PREFIX}/health.json")
    no_cookie_value = client.get(f"{PREFIX}/health.json", cookies={"_token": ""})

    assert page.status_code == 303 and "pixel" not in page.text
    assert (data.status_code, data.json()) == (401, {"detail": "Not authenticated"})
    assert no_cookie_value.status_code == 401


@pytest.fixture
def reader_client(engine):
    app = create_app(engine_factory=lambda: engine)
    app.dependency_overrides[dag_reader] = lambda: object()  # a user the auth manager let through
    return _mounted(app)


@pytest.mark.integration
def test_a_reader_sees_todays_totals_problems_and_runs_as_the_database_has_them(reader_client, konektor):
    now = datetime.now(UTC)
    log(konektor, A, "accepted", now - timedelta(minutes=1), 4)
    log(konektor, A, "failed", now - timedelta(minutes=1), 2, code=190, reason="meta error 190: expired")
    log(konektor, B, "skipped", now - timedelta(days=2), 3, reason="no customer identifier")
    konektor.execute(
        "INSERT INTO sync_runs (run_id, mode, window_start, window_end, summary) "
        "VALUES ('manual__2026-11-30T10:00:00+00:00', 'backfill', now() - interval '1 hour', now(), %s)",
        ('{"outcomes": [{"pixel_id": "1", "event_name": "Lead", "status": "accepted", "n": 4}]}',),
    )

    response = reader_client.get(f"{PREFIX}/")
    data = reader_client.get(f"{PREFIX}/health.json").json()

    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    html = response.text
    today = re.search(r'data-pixel="all">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'data-status="(\w+)">([\d,]+)<', today) == [
        ("accepted", "4"), ("partial_failure", "0"), ("failed", "2"), ("skipped", "0")]  # fmt: skip
    assert 'data-pixel="7100000000000001" data-problem="token_refused"' in html
    assert '<span data-week="skipped">3</span>' in html
    assert "<svg" in html and "pixel 7100000000000001" in html  # the chart, text kept as text
    # the run links to its Airflow page, relative to the API server's root (the app is mounted below it)
    assert 'href="/dags/meta_capi_sync/runs/manual__2026-11-30T10%3A00%3A00%2B00%3A00"' in html
    assert data["today"][A] == {"accepted": 4, "partial_failure": 0, "failed": 2, "skipped": 0}
    assert data["needs_action"][0]["events"] == 2 and data["runs"][0]["totals"]["accepted"] == 4
    assert data["match_keys"] == [] and 'id="match-keys"' in html  # nothing Meta took records keys yet


@pytest.mark.integration
def test_the_json_is_the_query_modules_numbers(reader_client, engine, konektor):
    log(konektor, A, "partial_failure", datetime.now(UTC) - timedelta(hours=3), 6, reason="flagged")

    data = reader_client.get(f"{PREFIX}/health.json").json()
    health = read_health(engine)

    assert data["reasons"] == [vars(r) for r in health.reasons]
    assert sum(row.get("partial_failure", 0) for row in data["hourly"]) == 6


@pytest.mark.unit
def test_the_plugin_mounts_the_app_and_links_it_from_the_navigation(airflow_home):
    import konektor_capi_health_plugin as plugin

    [app] = plugin.KonektorCapiHealthPlugin.fastapi_apps
    [view] = plugin.KonektorCapiHealthPlugin.external_views
    assert app["url_prefix"] == PREFIX and isinstance(app["app"], FastAPI)
    assert view["href"] == f"{PREFIX}/" and view["destination"] == "nav" and view["url_route"]
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES

    assert not any(PREFIX.startswith(p) for p in RESERVED_URL_PREFIXES)


class _AuthManager:
    """Answers is_authorized_dag as told, and records what it was asked."""

    def __init__(self, allow: bool) -> None:
        self.allow, self.asked = allow, []

    def is_authorized_dag(self, *, method, details, user, access_entity=None):
        self.asked.append((method, details.id, user))
        return self.allow


@pytest.mark.integration
@pytest.mark.parametrize("allow", [True, False])
def test_a_user_sees_the_page_only_if_the_auth_manager_lets_them_read_the_dag(engine, monkeypatch, allow):
    import airflow.api_fastapi.app as airflow_app

    manager, user = _AuthManager(allow), object()
    monkeypatch.setattr(airflow_app, "get_auth_manager", lambda: manager)
    app = create_app(engine_factory=lambda: engine)
    app.dependency_overrides[airflow_user] = lambda: user  # logged in

    response = _mounted(app).get(f"{PREFIX}/health.json")

    assert response.status_code == (200 if allow else 403)
    assert manager.asked == [("GET", "meta_capi_sync", user)]
