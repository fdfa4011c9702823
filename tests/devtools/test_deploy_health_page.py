"""The Meta CAPI health page in the deployment (`make airflow`), in a real browser.

A deployment of its own (test_deploy's fixtures, imported: module-scoped, so one per module) against
a database holding three days of outcomes and one real run of the DAG: the page is refused to anonymous
requests, shown to the logged-in user inside the Airflow UI and on its own, and its numbers are the
database's. Screenshots in test-artifacts/ui/.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from konektor_capi.pipeline import NO_TOKEN
from tests.devtools.test_deploy import (  # noqa: F401 - the fixtures, for this module's deployment
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DAG,
    GOOD,
    REFUSED,
    TOKENS,
    _leads,
    deployment,
    konektor,
    meta,
)

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(600)]

NO_TOKEN_PIXEL = "7300000000000003"
PAGE = "/konektor-capi/"
STATUSES = ("accepted", "partial_failure", "failed", "skipped")
RUN: dict[str, str] = {}

# Three days of outcomes, hour by hour: GOOD mostly accepted, with partial failures and skips; REFUSED
# accepted until its token was refused six hours ago (error 190 since).
HISTORY = """
INSERT INTO sync_logs (status_change_id, pixel_id, lead_id, workspace_id, event_name, event_id, event_time,
                       status, reason, error_code, error_subcode, run_id, updated_at)
SELECT 9000000 + row_number() OVER (), pixel, 1, ws, 'Lead', 'h' || row_number() OVER (), t, status, reason,
       code, subcode, 'seeded', t + interval '40 minutes'
FROM (
    SELECT %(good)s AS pixel, 1 AS ws, h + interval '10 minutes' AS t,
           CASE WHEN k = 1 AND n %% 6 = 0 THEN 'partial_failure' WHEN k = 1 AND n %% 2 = 1 THEN 'skipped'
                ELSE 'accepted' END AS status,
           CASE WHEN k = 1 AND n %% 6 = 0 THEN 'Meta flagged fbc: invalid format'
                WHEN k = 1 AND n %% 2 = 1 THEN 'no customer identifier Meta can match' END AS reason,
           NULL::int AS code, NULL::int AS subcode
    FROM generate_series(1, 72) n, generate_series(1, 3 + n %% 4) k,
         LATERAL (SELECT date_trunc('hour', now()) - n * interval '1 hour' AS h) hours
    UNION ALL
    SELECT %(refused)s, 2, h + interval '20 minutes',
           CASE WHEN n <= 6 THEN 'failed' ELSE 'accepted' END,
           CASE WHEN n <= 6 THEN 'meta error 190/463: Error validating access token: Session has expired' END,
           CASE WHEN n <= 6 THEN 190 END, CASE WHEN n <= 6 THEN 463 END
    FROM generate_series(1, 72) n, generate_series(1, 2) k,
         LATERAL (SELECT date_trunc('hour', now()) - n * interval '1 hour' AS h) hours
) rows
"""


@pytest.fixture(scope="module")
def seeded(konektor):
    konektor.pixel(1, NO_TOKEN_PIXEL, token=None)
    konektor.execute(HISTORY, {"good": GOOD, "refused": REFUSED})
    return konektor


def test_a_run_of_the_dag_records_what_the_page_shows(deployment, seeded):
    airflow, _ = deployment
    # A paused DAG's runs stay queued: unpaused, the scheduler first runs the latest hour (done before the
    # leads exist, so that the run below is the one to send them).
    airflow.call("PATCH", f"/dags/{DAG}", json={"is_paused": False})
    deadline = time.monotonic() + 120
    while not (scheduled := [r for r in airflow.runs() if r["run_type"] == "scheduled"]):
        assert time.monotonic() < deadline, "the scheduler created no run"
        time.sleep(1)
    assert airflow.wait_for(scheduled[0]["dag_run_id"])["state"] == "success"
    now = datetime.now(UTC)
    changes = _leads(seeded, 1, 3, now - timedelta(minutes=20))
    run_id = airflow.call("POST", f"/dags/{DAG}/dagRuns", json={"logical_date": None, "conf": {
        "start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}})["dag_run_id"]  # fmt: skip
    assert airflow.wait_for(run_id)["state"] == "success"
    outcomes = seeded.execute("SELECT pixel_id, status, reason FROM sync_logs "
                              "WHERE status_change_id = ANY(%s)", (changes,))  # fmt: skip
    expected = [(GOOD, "accepted")] * 3 + [(NO_TOKEN_PIXEL, "skipped")] * 3
    assert sorted((p, s) for p, s, _ in outcomes) == expected
    assert {r for p, _, r in outcomes if p == NO_TOKEN_PIXEL} == {NO_TOKEN}
    RUN["id"] = run_id


def test_anonymous_requests_are_refused(deployment):
    airflow, _ = deployment
    page = requests.get(f"{airflow.url}{PAGE}", allow_redirects=False, timeout=30)
    data = requests.get(f"{airflow.url}{PAGE}health.json", timeout=30)
    forged = requests.get(f"{airflow.url}{PAGE}health.json", timeout=30,
                          headers={"Authorization": "Bearer eyJhbGciOiJIUzUxMiJ9.e30.forged"})  # fmt: skip
    forged_cookie = requests.get(f"{airflow.url}{PAGE}health.json", cookies={"_token": "forged"}, timeout=30)

    assert page.status_code == 303 and "/auth/login" in page.headers["location"]
    assert GOOD not in page.text
    assert data.status_code == 401
    assert forged.status_code == 403 and forged_cookie.status_code == 403
    # a token of the API's own login is let through
    assert airflow.session.get(f"{airflow.url}{PAGE}health.json", timeout=60).status_code == 200


def _cells(page, selector: str) -> dict[str, int]:
    return {cell.get_attribute("data-status"): int(cell.inner_text().replace(",", ""))
            for cell in page.locator(f"{selector} td[data-status]").all()}  # fmt: skip


def _counts(konektor, since: str, until: str, pixel: str | None = None) -> dict[str, int]:
    rows = konektor.execute(
        "SELECT status, count(*) FROM sync_logs WHERE event_time >= %s AND event_time < %s "
        "AND (%s::text IS NULL OR pixel_id = %s) GROUP BY 1",
        (since, until, pixel, pixel),
    )
    return {s: dict(rows).get(s, 0) for s in STATUSES}


def test_the_page_shows_the_databases_numbers_to_a_logged_in_user(deployment, seeded, tmp_path):
    from playwright.sync_api import sync_playwright

    airflow, _ = deployment
    assert RUN, "needs the run of test_a_run_of_the_dag_records_what_the_page_shows"
    state = json.loads((airflow.home / "deploy.json").read_text())
    password = json.loads((airflow.home / "secrets.json").read_text())["admin_password"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(  # a fresh profile of its own
            tmp_path / "chromium", executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900})  # fmt: skip
        try:
            page = browser.new_page()
            page.goto(f"{airflow.url}{PAGE}", wait_until="networkidle")  # not logged in: to the login page
            page.fill("input[name=username]", state["username"])
            page.fill("input[name=password]", password)
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_load_state("networkidle")

            # In the UI: its navigation links the page, shown inside the UI
            page.goto(f"{airflow.url}/", wait_until="networkidle")
            page.locator('a[href*="plugin/meta-capi-health"]').first.click()
            page.wait_for_url(re.compile(r"/plugin/meta-capi-health"))
            frame = page.frame_locator("iframe[title='Meta CAPI health']")
            frame.locator("h1").get_by_text("Meta CAPI sync health").wait_for(timeout=30_000)
            frame.locator(f'#needs-action tr[data-pixel="{REFUSED}"]').wait_for()
            page.screenshot(path=ARTIFACTS / "4-health-in-the-airflow-ui.png")

            # On its own, every number checked against the database
            page.goto(f"{airflow.url}{PAGE}", wait_until="networkidle")
            body = page.locator("body")
            since, until, today = (body.get_attribute(f"data-{k}") for k in ("since", "until", "today-start"))
            assert datetime.fromisoformat(until) - datetime.fromisoformat(since) == timedelta(days=7)
            for pixel in (GOOD, REFUSED, NO_TOKEN_PIXEL):
                assert _cells(page, f'#today tr[data-pixel="{pixel}"]') == _counts(
                    seeded, today, until, pixel
                )
            assert _cells(page, '#today tr[data-pixel="all"]') == _counts(seeded, today, until)
            week = {
                s: int(page.locator(f'[data-week="{s}"]').inner_text().replace(",", "")) for s in STATUSES
            }
            assert week == _counts(seeded, since, until)

            problems = {(row.get_attribute("data-pixel"), row.get_attribute("data-problem")):
                        int(row.locator("td[data-events]").inner_text())
                        for row in page.locator("#needs-action tr[data-problem]").all()}  # fmt: skip
            [(refused,)] = seeded.execute("SELECT count(*) FROM sync_logs WHERE pixel_id = %s AND "
                                          "status = 'failed' AND error_code = 190", (REFUSED,))  # fmt: skip
            assert problems == {(REFUSED, "token_refused"): refused, (NO_TOKEN_PIXEL, "token_missing"): 3}
            assert (
                "new system-user token"
                in page.locator(f'#needs-action tr[data-pixel="{REFUSED}"]').inner_text()
            )

            first = page.locator("#reasons tr").nth(1).locator("td").all_inner_texts()
            [(reason, n, example)] = seeded.execute(
                "SELECT reason, count(*), min(status_change_id) FROM sync_logs WHERE status <> 'accepted' "
                "AND event_time >= %s AND event_time < %s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
                (since, until),
            )
            assert (first[1], int(first[2]), int(first[4])) == (reason, n, example)

            run = page.locator(f'#runs tr[data-run="{RUN["id"]}"]')
            assert _cells(page, f'#runs tr[data-run="{RUN["id"]}"]')["accepted"] == 3
            assert "backfill" in run.inner_text()
            assert page.locator("#chart svg").count() == 1
            content = page.content()
            assert not [token for token in TOKENS.values() if token in content]
            page.screenshot(path=ARTIFACTS / "5-health-page.png", full_page=True)

            # The run's link opens its page in Airflow: on its own, and from inside the UI's frame
            run.locator("a").click()
            page.wait_for_url(re.compile(rf"/dags/{DAG}/runs/"), timeout=30_000)
            page.goto(f"{airflow.url}/plugin/meta-capi-health", wait_until="networkidle")
            frame = page.frame_locator("iframe[title='Meta CAPI health']")
            frame.locator(f'#runs tr[data-run="{RUN["id"]}"] a').click()
            page.wait_for_url(re.compile(rf"{airflow.url}/dags/{DAG}/runs/"), timeout=30_000)
        finally:
            browser.close()
    assert (ARTIFACTS / "5-health-page.png").stat().st_size > 50_000
