"""`make airflow` / `make airflow-stop`: the docker-compose deployment's processes, run from the venv.

The same Airflow 3 processes and settings as docker-compose.yaml (CeleryExecutor on Redis, FAB auth,
PostgreSQL metadata; API server, scheduler, dag-processor, triggerer, Celery worker), without Docker:

- Airflow's metadata: a database `airflow_deploy_<hash of AIRFLOW_HOME>` on the embedded PostgreSQL;
- Redis: Debian's `redis-server` on a free loopback port (`make airflow-deps` installs it);
- the pipeline's connections: AIRFLOW_CONN_KONEKTOR_DB / AIRFLOW_CONN_META_CAPI when set, else the
  demo database (seeded when empty) and a Graph API emulator holding its pixels' tokens.

Everything lives under `.airflow/deploy` (AIRFLOW_HOME, with its airflow.cfg), so the plain CLI works:
`AIRFLOW_HOME=.airflow/deploy .venv/bin/airflow dags list`. Servers listen on 127.0.0.1 only; the
scheduler, triggerer and worker run with --skip-serve-logs and logs are read from disk.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from configparser import ConfigParser
from pathlib import Path

import requests

from devtools import demo_data, embedded_pg, stack
from konektor_capi_cli import targets

REPO = stack.REPO
HOME = Path(os.environ.get("KONEKTOR_DEPLOY_HOME", REPO / ".airflow" / "deploy"))
DEMO_DB = targets.DEMO_DB
ADMIN = "admin"
# name -> airflow CLI arguments; the order they start in (the API server first: the others call it).
PROCESSES = {
    "api-server": ["api-server", "--host", "127.0.0.1"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
    "celery-worker": ["celery", "worker", "--skip-serve-logs", "--concurrency", "4"],
}


class DeployError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def meta_db() -> str:
    """Airflow's metadata database of this AIRFLOW_HOME: one per home, as its secrets are."""
    return "airflow_deploy_" + hashlib.sha1(str(HOME.resolve()).encode()).hexdigest()[:10]


def _state_path() -> Path:
    return HOME / "deploy.json"


def read_state() -> dict:
    try:
        return json.loads(_state_path().read_text())
    except FileNotFoundError:
        return {}


def _write_private(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _secrets() -> dict[str, str]:
    """Generated once per AIRFLOW_HOME and kept (the Fernet key encrypts stored connections)."""
    path = HOME / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "jwt_secret": secrets.token_urlsafe(48),
        "api_secret_key": secrets.token_urlsafe(48),
        "admin_password": secrets.token_urlsafe(12),
    }
    _write_private(path, json.dumps(values))
    return values


def _meta_urls(server_uri: str) -> tuple[str, str]:
    """SQLAlchemy URLs of Airflow's metadata database (Unix socket): sync (psycopg2) and async."""
    uri = embedded_pg.database_uri(server_uri, meta_db())
    return (uri.replace("postgresql://", "postgresql+psycopg2://", 1),
            uri.replace("postgresql://", "postgresql+asyncpg://", 1))  # fmt: skip


def write_config(ports: dict[str, int], meta_sync: str, meta_async: str, keys: dict[str, str]) -> Path:
    """airflow.cfg of the deployment: docker-compose.yaml's settings, on loopback ports."""
    cfg = ConfigParser(interpolation=None)
    api = f"http://127.0.0.1:{ports['api']}"
    cfg.read_dict({
        "core": {
            "executor": "CeleryExecutor",
            "auth_manager": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
            "dags_folder": str(REPO / "dags"),
            "plugins_folder": str(REPO / "plugins"),
            "load_examples": "False",
            "fernet_key": keys["fernet_key"],
            "dags_are_paused_at_creation": "True",
            "test_connection": "Enabled",
            "execution_api_server_url": f"{api}/execution/",
        },
        "database": {"sql_alchemy_conn": meta_sync, "sql_alchemy_conn_async": meta_async},
        "celery": {
            "broker_url": f"redis://127.0.0.1:{ports['redis']}/0",
            # psycopg2 named: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, not installed.
            "result_backend": "db+" + meta_sync,
        },
        "api": {"host": "127.0.0.1", "port": str(ports["api"]), "secret_key": keys["api_secret_key"],
                "base_url": api},  # fmt: skip
        "api_auth": {"jwt_secret": keys["jwt_secret"]},
        "scheduler": {
            "enable_health_check": "True",
            "scheduler_health_check_server_host": "127.0.0.1",
            "scheduler_health_check_server_port": str(ports["scheduler_health"]),
        },
        "logging": {
            "base_log_folder": str(HOME / "logs"),
            "worker_log_server_port": str(ports["worker_logs"]),
            "trigger_log_server_port": str(ports["trigger_logs"]),
        },
    })  # fmt: skip
    path = HOME / "airflow.cfg"
    with open(path, "w") as handle:
        cfg.write(handle)
    path.chmod(0o600)
    return path


def _connections() -> tuple[str, str | None]:
    """The pipeline's connections by the operator commands' rule (konektor_capi_cli.targets): the user's
    pair, or the demo database (seeded when empty) with an emulator started below (meta None)."""
    chosen = targets.for_run(os.environ, "start the deployment")
    for note in chosen.notes:
        print(note, file=sys.stderr)
    if chosen.db_uri:
        return chosen.db_uri, chosen.meta_conn
    uri = stack.ensure_database(DEMO_DB)
    if not demo_data.has_changes(uri):
        seeded = demo_data.seed(uri, n_leads=300, now=demo_data.now_utc())
        print(f"seeded {seeded.leads} demo leads and {seeded.changes} status changes into {DEMO_DB}")
    return uri, chosen.meta_conn


def _start(name: str, cmd: list[str], env: dict[str, str]) -> int:
    log = open(HOME / "proc" / f"{name}.log", "ab")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen(cmd, env=env, cwd=HOME, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    log.close()
    return proc.pid


def _wait(what: str, check, timeout: float, pids: dict[str, int]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [name for name, pid in pids.items() if not _alive(pid)]
        if dead:
            raise DeployError(f"{', '.join(dead)} exited; see {HOME / 'proc'}/<name>.log")
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.5)
    raise DeployError(f"{what} not ready within {timeout:.0f}s; see {HOME / 'proc'}")


def _healthy(api: str) -> bool:
    health = requests.get(f"{api}/api/v2/monitor/health", timeout=5).json()
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return all((health.get(p) or {}).get("status") == "healthy" for p in parts)


def _worker_ready() -> bool:
    return b" ready." in (HOME / "proc" / "celery-worker.log").read_bytes()


def up(timeout: float = 240) -> dict:
    state = read_state()
    running = state.get("pids") or {}
    if set(PROCESSES) <= set(running) and all(_alive(pid) for pid in running.values()):
        print(f"already running: {state['api_url']} (make airflow-stop first to restart)")
        return state
    down(quiet=True)
    redis = shutil.which("redis-server")
    if redis is None:
        raise DeployError("redis-server not found: run `make airflow-deps` (Debian's redis-server)")
    for sub in ("proc", "logs", "run"):
        (HOME / sub).mkdir(parents=True, exist_ok=True)
    konektor_db, meta_conn = _connections()
    server = embedded_pg.start()
    stack.ensure_database(meta_db())
    meta_sync, meta_async = _meta_urls(server)
    ports = {k: _free_port() for k in ("api", "redis", "scheduler_health", "worker_logs", "trigger_logs")}
    keys = _secrets()
    write_config(ports, meta_sync, meta_async, keys)
    pids: dict[str, int] = {}
    state = {"home": str(HOME), "api_url": f"http://127.0.0.1:{ports['api']}", "username": ADMIN,
             "password_file": str(HOME / "secrets.json"), "ports": ports, "pids": pids}  # fmt: skip
    pids["redis"] = _start("redis", [redis, "--port", str(ports["redis"]), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no"], dict(os.environ))  # fmt: skip
    if meta_conn is None:
        tokens = demo_data.pixel_tokens(konektor_db)
        emulator_port = _free_port()
        pixels_file = HOME / "emulator-pixels.json"
        _write_private(pixels_file, json.dumps({"pixels": tokens}))
        pids["graph-emulator"] = _start("graph-emulator", [
            sys.executable, "-m", "devtools.graph_emulator", "--host", "127.0.0.1",
            "--port", str(emulator_port), "--pixels-file", str(pixels_file)], {**os.environ,
            "PYTHONPATH": str(REPO)})  # fmt: skip
        state["emulator_url"] = f"http://127.0.0.1:{emulator_port}"
        meta_conn = json.dumps({"conn_type": "http", "host": state["emulator_url"],
                                "extra": {"api_version": "v25.0"}})  # fmt: skip
    env = process_env(konektor_db, meta_conn)
    _write_private(_state_path(), json.dumps(state, indent=2))
    airflow = stack.airflow_bin()
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    _ensure_admin(airflow, env, keys["admin_password"])
    for name, args in PROCESSES.items():
        pids[name] = _start(name, [airflow, *args, *(["--port", str(ports["api"])] if name == "api-server"
                                                     else [])], env)  # fmt: skip
        _write_private(_state_path(), json.dumps(state, indent=2))
    _wait("the API server, scheduler, dag-processor and triggerer", lambda: _healthy(state["api_url"]),
          timeout, pids)  # fmt: skip
    _wait("the Celery worker", _worker_ready, timeout, pids)
    return state


def process_env(konektor_db: str, meta_conn: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update({
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW_CONN_KONEKTOR_DB": konektor_db,
        "AIRFLOW_CONN_META_CAPI": meta_conn,
        "KONEKTOR_TASK_RETRIES": os.environ.get("KONEKTOR_TASK_RETRIES", "2"),
        "GX_ANALYTICS_ENABLED": "False",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "plugins"), str(REPO),
                                                    os.environ.get("PYTHONPATH", "")])),
    })  # fmt: skip
    return env


def _ensure_admin(airflow: str, env: dict[str, str], password: str) -> None:
    done = subprocess.run([airflow, "users", "create", "--username", ADMIN, "--password", password,
                           "--role", "Admin", "--firstname", "Konektor", "--lastname", "Admin",
                           "--email", "admin@example.invalid"], env=env, capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0 and "already exist" not in done.stdout + done.stderr:
        raise DeployError(f"could not create the UI user: {(done.stderr or done.stdout)[-500:]}")


def down(quiet: bool = False, grace: float = 20) -> None:
    """Stops every process `up` started (their whole process groups: task runners, Celery children)."""
    state = read_state()
    pids = {name: pid for name, pid in (state.get("pids") or {}).items() if _alive(pid)}
    for pid in pids.values():
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):
        time.sleep(0.2)
    for pid in pids.values():
        _signal_group(pid, signal.SIGKILL)
    if state:
        state["pids"] = {}
        _write_private(_state_path(), json.dumps(state, indent=2))
    if not quiet:
        print(f"stopped {len(pids)} process(es)" + (f": {', '.join(pids)}" if pids else ""))


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    if args.command == "down":
        down()
        return 0
    if args.command == "status":
        state = read_state()
        for name, pid in (state.get("pids") or {}).items():
            print(f"{name:15} {'running' if _alive(pid) else 'stopped'}  pid {pid}")
        return 0
    try:
        state = up()
    except (DeployError, targets.Refused) as exc:
        print(f"make airflow: {exc}", file=sys.stderr)
        down(quiet=True)
        return 2 if isinstance(exc, targets.Refused) else 1
    except BaseException:
        down(quiet=True)
        raise
    print(f"Airflow is up: {state['api_url']}  user {ADMIN}, password {_secrets()['admin_password']}")
    print(f"CLI: AIRFLOW_HOME={HOME} {stack.airflow_bin()} dags list")
    if state.get("emulator_url"):
        print(f"Graph API emulator: {state['emulator_url']}/_emulator/stats; database: {DEMO_DB}")
    print("stop: make airflow-stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
