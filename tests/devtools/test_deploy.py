"""The deployment as a data team runs it (`make airflow`: scheduler, dag-processor, triggerer, API server,
Celery worker on Redis, PostgreSQL metadata), driven as people do: the REST API v2 and the CLI.

One deployment for the module, against a database and a Graph API emulator of the test's own, passed
in as AIRFLOW_CONN_* like an operator's. The tests run in file order: each builds on the last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg2
import pytest
import requests

from devtools import embedded_pg
from devtools.demo_data import apply_schemas
from devtools.graph_emulator.process import EmulatorAdmin, start_emulator
from tests.factory import Konektor

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
DAG = "meta_capi_sync"
GOOD, REFUSED = "7100000000000001", "7200000000000002"
ARTIFACTS = Path(os.environ.get("KONEKTOR_TEST_ARTIFACTS", REPO / "test-artifacts")) / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
RUNS: dict[str, str] = {}  # what earlier tests ran, for the browser test
TOKENS = {GOOD: "EAAdeployGoodToken", REFUSED: "EAAdeployRefusedToken"}


class Airflow:
    """The REST API v2 as a person's script uses it: a JWT from /auth/token, then JSON calls."""

    def __init__(self, state: dict, password: str) -> None:
        self.url = state["api_url"]
        self.home = Path(state["home"])
        token = requests.post(f"{self.url}/auth/token", json={"username": state["username"],
                                                              "password": password}, timeout=30)  # fmt: skip
        token.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs):
        response = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
        assert response.ok, (method, path, response.status_code, response.text[:500])
        return response.json()

    def runs(self) -> list[dict]:
        return self.call("GET", f"/dags/{DAG}/dagRuns", params={"limit": 100})["dag_runs"]

    def run(self, run_id: str) -> dict:
        return self.call("GET", f"/dags/{DAG}/dagRuns/{run_id}")

    def task_instances(self, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def wait_for(self, run_id: str, states=("success", "failed"), timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run["state"] in states:
                return run
            time.sleep(1)
        tis = [(t["task_id"], t["map_index"], t["state"]) for t in self.task_instances(run_id)]
        raise AssertionError(f"run {run_id} still {run['state']} after {timeout}s: {tis}")

    def task_log(self, run_id: str, ti: dict) -> str:
        folder = self.home / "logs" / f"dag_id={DAG}" / f"run_id={run_id}" / f"task_id={ti['task_id']}"
        if ti["map_index"] >= 0:
            folder = folder / f"map_index={ti['map_index']}"
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("attempt=*.log")))


def _deploy(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "devtools.deploy", command], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=400)  # fmt: skip


@pytest.fixture(scope="module")
def konektor(pg_server):
    uri = embedded_pg.recreate_database(pg_server, f"deploy_{os.getpid()}")
    conn = psycopg2.connect(uri)
    apply_schemas(conn)
    conn.close()
    k = Konektor(uri)
    k.workspace(1)
    k.workspace(2)
    k.pixel(1, GOOD, token=TOKENS[GOOD])
    k.pixel(2, REFUSED, token=TOKENS[REFUSED])
    yield k
    k.close()


@pytest.fixture(scope="module")
def meta():
    with start_emulator() as emulator:
        admin = EmulatorAdmin(emulator.base_url)
        admin.register_pixels(TOKENS)
        yield admin


@pytest.fixture(scope="module")
def deployment(konektor, meta, tmp_path_factory):
    home = tmp_path_factory.mktemp("deploy")
    env = {**os.environ, "KONEKTOR_DEPLOY_HOME": str(home), "AIRFLOW_CONN_KONEKTOR_DB": konektor.dsn,
           "AIRFLOW_CONN_META_CAPI": json.dumps({"conn_type": "http", "host": meta.base_url,
                                                 "extra": {"api_version": "v25.0"}})}  # fmt: skip
    # The deployment's own airflow.cfg, not another test's: AIRFLOW__* in the environment would win over it
    # (under the full suite, the CLI then wrote its backfill into the in-process tests' metadata database).
    env = {k: v for k, v in env.items() if k != "AIRFLOW_HOME" and not k.startswith("AIRFLOW__")}
    started = _deploy("up", env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Airflow is up: http://127.0.0.1:" in started.stdout
        state = json.loads((home / "deploy.json").read_text())
        password = json.loads((home / "secrets.json").read_text())["admin_password"]
        yield Airflow(state, password), env
    finally:
        state_file = home / "deploy.json"
        pids = json.loads(state_file.read_text()).get("pids", {}) if state_file.exists() else {}
        stopped = _deploy("down", env)
        _drop_metadata_database(env)
        assert stopped.returncode == 0, stopped.stderr
        assert not [name for name, pid in pids.items() if psutil.pid_exists(pid)
                    and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]  # fmt: skip


def _drop_metadata_database(env: dict[str, str]) -> None:
    name = subprocess.run(
        [sys.executable, "-c", "from devtools import deploy; print(deploy.meta_db())"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    conn = psycopg2.connect(embedded_pg.start())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    airflow = str(Path(sys.executable).with_name("airflow"))
    cli_env = {**env, "AIRFLOW_HOME": env["KONEKTOR_DEPLOY_HOME"]}  # the plain CLI, as the README says
    return subprocess.run([airflow, *args], env=cli_env, capture_output=True, text=True, timeout=120)


def _leads(konektor: Konektor, workspace: int, n: int, at: datetime) -> list[int]:
    changes = []
    for i in range(n):
        lead = konektor.lead(workspace, email=f"deploy{workspace}-{at:%d%H}-{i}@example.com")
        changes.append(konektor.change(lead, "new", at=at + timedelta(minutes=i)))
    return changes


def _windows(konektor: Konektor, run_ids: list[str]) -> dict[str, tuple]:
    rows = konektor.execute("SELECT run_id, mode, window_start, window_end FROM sync_runs "
                            "WHERE run_id = ANY(%s)", (run_ids,))  # fmt: skip
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_every_process_listens_on_loopback_only(deployment):
    airflow, _ = deployment
    state = json.loads((airflow.home / "deploy.json").read_text())
    ours = set()
    for pid in state["pids"].values():
        proc = psutil.Process(pid)
        ours |= {pid, *(c.pid for c in proc.children(recursive=True))}
    listening = [c for c in psutil.net_connections("inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in ours]  # fmt: skip
    assert listening, "no listening socket found"
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}


def test_a_scheduled_run_syncs_its_hour(deployment, konektor, meta):
    airflow, _ = deployment
    now = datetime.now(UTC)
    last_hour = now.replace(minute=0, second=0, microsecond=0)
    changes = _leads(konektor, 1, 3, last_hour - timedelta(minutes=40))
    changes += _leads(konektor, 2, 2, last_hour - timedelta(minutes=30))
    airflow.call("PATCH", f"/dags/{DAG}", json={"is_paused": False})
    deadline = time.monotonic() + 90
    while not (scheduled := [r for r in airflow.runs() if r["run_type"] == "scheduled"]):
        assert time.monotonic() < deadline, "the scheduler created no run"
        time.sleep(1)
    run = airflow.wait_for(scheduled[0]["dag_run_id"])
    assert run["state"] == "success"
    RUNS["scheduled"] = run["dag_run_id"]
    assert datetime.fromisoformat(run["data_interval_end"]) == last_hour
    assert datetime.fromisoformat(run["data_interval_start"]) == last_hour - timedelta(hours=1)
    mode, _, window_end = _windows(konektor, [run["dag_run_id"]])[run["dag_run_id"]]
    assert (mode, window_end) == ("hourly", last_hour)
    statuses = konektor.execute("SELECT status, count(*) FROM sync_logs WHERE status_change_id = ANY(%s) "
                                "GROUP BY 1", (changes,))  # fmt: skip
    assert dict(statuses) == {"accepted": 5}
    tis = airflow.task_instances(run["dag_run_id"])
    labels = {t["rendered_map_index"] for t in tis if t["task_id"] == "sync"}
    assert labels == {"workspace 1", "workspace 2"}


def test_a_refused_token_fails_its_group_at_once_and_a_cleared_rerun_completes(deployment, konektor, meta):
    airflow, _ = deployment
    konektor.execute("UPDATE meta_pixels SET capi_access_token = 'EAAexpiredToken' WHERE pixel_id = %s",
                     (REFUSED,))  # fmt: skip
    now = datetime.now(UTC)
    good = _leads(konektor, 1, 2, now - timedelta(minutes=20))
    refused = _leads(konektor, 2, 3, now - timedelta(minutes=20))
    start, end = (now - timedelta(hours=1)).isoformat(), now.isoformat()
    run_id = airflow.call("POST", f"/dags/{DAG}/dagRuns", json={
        "logical_date": None, "conf": {"start": start, "end": end}})["dag_run_id"]  # fmt: skip
    started = time.monotonic()
    run = airflow.wait_for(run_id, timeout=120)
    assert run["state"] == "failed"
    assert time.monotonic() - started < 90  # no retry delay: a refused token does not heal by waiting
    tis = {(t["task_id"], t["rendered_map_index"] or str(t["map_index"])): t
           for t in airflow.task_instances(run_id)}  # fmt: skip
    failed = tis[("sync", "workspace 2")]
    assert (failed["state"], failed["try_number"]) == ("failed", 1)
    assert tis[("sync", "workspace 1")]["state"] == "success"
    log = airflow.task_log(run_id, failed)
    assert f"3 event(s) of workspace 2 failed: pixel {REFUSED}: 3 (meta error 190" in log
    assert "EAAexpiredToken" not in log
    assert tis[("finish", "-1")]["try_number"] == 1

    konektor.execute("UPDATE meta_pixels SET capi_access_token = %s WHERE pixel_id = %s",
                     (TOKENS[REFUSED], REFUSED))  # fmt: skip
    airflow.call("POST", f"/dags/{DAG}/clearTaskInstances", json={
        "dry_run": False, "dag_run_id": run_id, "only_failed": True, "include_downstream": True,
        "reset_dag_runs": True})  # fmt: skip
    time.sleep(2)
    assert airflow.wait_for(run_id, timeout=120)["state"] == "success"
    outcomes = dict(
        konektor.execute(
            "SELECT status, count(*) FROM sync_logs WHERE status_change_id = ANY(%s) GROUP BY 1",
            (good + refused,),
        )
    )
    assert outcomes == {"accepted": 5}
    assert meta.stats()["duplicates"] == 0


def test_backfill_create_runs_each_hour_of_its_range(deployment, konektor, meta):
    airflow, env = deployment
    first = (datetime.now(UTC) - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    hours = [first + timedelta(hours=h) for h in range(3)]
    late = [_leads(konektor, 1, 2, hour + timedelta(minutes=10)) for hour in hours]  # committed late
    created = _cli(env, "backfill", "create", "--dag-id", DAG, "--from-date", hours[0].isoformat(),
                   "--to-date", hours[-1].isoformat())  # fmt: skip
    assert created.returncode == 0, created.stderr[-2000:]
    deadline = time.monotonic() + 180  # the scheduler creates them; slow on a loaded 2-core machine
    while len(backfills := [r for r in airflow.runs() if r["run_type"] == "backfill"]) < 3:
        assert time.monotonic() < deadline, backfills
        time.sleep(1)
    assert len(backfills) == 3
    for run in backfills:
        assert airflow.wait_for(run["dag_run_id"])["state"] == "success"
    windows = _windows(konektor, [r["dag_run_id"] for r in backfills])
    assert sorted((w[1], w[2]) for w in windows.values()) == [(h, h + timedelta(hours=1)) for h in hours]
    assert {w[0] for w in windows.values()} == {"backfill"}
    for changes in late:
        rows = konektor.execute("SELECT status FROM sync_logs WHERE status_change_id = ANY(%s)", (changes,))
        assert [r[0] for r in rows] == ["accepted", "accepted"]


def test_a_dry_run_with_params_sends_nothing(deployment, konektor, meta):
    airflow, _ = deployment
    at = datetime.now(UTC) - timedelta(days=2)
    changes = _leads(konektor, 1, 4, at)
    requests_before = meta.stats()["requests"]
    run_id = airflow.call("POST", f"/dags/{DAG}/dagRuns", json={"logical_date": None, "conf": {
        "start": (at - timedelta(minutes=1)).isoformat(), "end": (at + timedelta(hours=1)).isoformat(),
        "dry_run": True}})["dag_run_id"]  # fmt: skip
    assert airflow.wait_for(run_id)["state"] == "success"
    assert meta.stats()["requests"] == requests_before
    recorded = konektor.execute("SELECT count(*) FROM sync_logs WHERE status_change_id = ANY(%s)", (changes,))
    assert recorded == [(0,)]
    [(summary,)] = konektor.execute("SELECT summary FROM sync_runs WHERE run_id = %s", (run_id,))
    assert sum(w["n"] for w in summary["would_send"]) == 4


def test_the_ui_shows_the_runs_workspace_labels_and_summary_in_a_real_browser(deployment, tmp_path):
    from playwright.sync_api import sync_playwright

    airflow, _ = deployment
    run_id = RUNS.get("scheduled")
    assert run_id, "needs the scheduled run of test_a_scheduled_run_syncs_its_hour"
    state = json.loads((airflow.home / "deploy.json").read_text())
    password = json.loads((airflow.home / "secrets.json").read_text())["admin_password"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(  # a fresh profile of its own
            tmp_path / "chromium", executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900})  # fmt: skip
        try:
            page = browser.new_page()
            page.goto(f"{airflow.url}/", wait_until="networkidle")
            page.fill("input[name=username]", state["username"])
            page.fill("input[name=password]", password)
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_load_state("networkidle")
            assert "/auth/login" not in page.url

            page.goto(f"{airflow.url}/dags/{DAG}", wait_until="networkidle")
            page.get_by_text("0 * * * *").first.wait_for()  # the grid of the hourly DAG
            page.get_by_text("sync [ ]").first.wait_for()
            page.screenshot(path=ARTIFACTS / "1-dag-grid.png")

            page.goto(f"{airflow.url}/dags/{DAG}/runs/{run_id}/tasks/sync/mapped", wait_until="networkidle")
            for label in ("workspace 1", "workspace 2"):
                page.get_by_text(label, exact=True).first.wait_for(timeout=20_000)
            page.screenshot(path=ARTIFACTS / "2-mapped-sync-tasks.png")

            page.goto(f"{airflow.url}/dags/{DAG}/runs/{run_id}/tasks/finish", wait_until="networkidle")
            page.get_by_text("pairs=5").first.wait_for(timeout=20_000)  # the run summary, as logged
            page.get_by_text("accepted").first.wait_for()
            page.screenshot(path=ARTIFACTS / "3-run-summary.png")
        finally:
            browser.close()
    assert all((ARTIFACTS / name).stat().st_size > 10_000
               for name in ("1-dag-grid.png", "2-mapped-sync-tasks.png", "3-run-summary.png"))  # fmt: skip


def test_make_airflow_refuses_a_database_without_a_meta_connection(tmp_path):
    env = {**os.environ, "KONEKTOR_DEPLOY_HOME": str(tmp_path / "deploy"),
           "AIRFLOW_CONN_KONEKTOR_DB": "postgresql://nobody@127.0.0.1:1/konektor"}  # fmt: skip
    env.pop("AIRFLOW_CONN_META_CAPI", None)
    env.pop("KONEKTOR_DEV_EMULATOR", None)
    started = time.monotonic()
    refused = _deploy("up", env)
    assert refused.returncode == 2
    assert "AIRFLOW_CONN_META_CAPI is not" in refused.stderr
    assert time.monotonic() - started < 30  # before starting or reading anything
    assert not (tmp_path / "deploy" / "deploy.json").exists() or not json.loads(
        (tmp_path / "deploy" / "deploy.json").read_text()
    ).get("pids")
