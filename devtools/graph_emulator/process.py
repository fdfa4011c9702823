"""Run the emulator as a real subprocess and drive its admin API (tests, demo, benchmark).

with start_emulator() as emu:
    admin = EmulatorAdmin(emu.base_url)
    admin.register_pixels({"123": "token-123"})
    ...  # point the client at emu.base_url
    print(admin.stats())
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"graph emulator listening on (http://\S+)")


class EmulatorError(RuntimeError):
    pass


class EmulatorProcess:
    """`python -m devtools.graph_emulator` in a subprocess; stderr (the access log) goes to `log_path`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        extra_args: Sequence[str] = (),
        *,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self.host = host
        self.port = port
        self.extra_args = tuple(extra_args)
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="graph-emulator-", suffix=".log")
            os.close(fd)
            log_path = name
        self.log_path = Path(log_path)
        self.startup_timeout = startup_timeout
        self.base_url: str = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> EmulatorProcess:
        if self.proc is not None:
            raise EmulatorError("already started")
        cmd = [
            sys.executable,
            "-m",
            "devtools.graph_emulator",
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
        )
        try:
            self.base_url = self._wait_for_listening_line()
        except BaseException:
            self.stop()
            raise
        self.port = int(self.base_url.rsplit(":", 1)[1])
        # keep draining stdout so the child can never block on a full pipe
        threading.Thread(target=self._drain_stdout, name="graph-emulator-stdout", daemon=True).start()
        return self

    def _wait_for_listening_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        seen = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=0.1):
                    if self.proc.poll() is not None:
                        break
                    continue
                line = self.proc.stdout.readline()
                if not line:
                    break
                seen += line
                match = _LISTENING.search(line.decode("utf-8", "replace"))
                if match:
                    return match.group(1)
        self.proc.poll()
        raise EmulatorError(
            f"graph emulator did not start (exit code {self.proc.returncode}); stdout={seen!r}; "
            f"log tail:\n{self.read_log()[-2000:]}"
        )

    def _drain_stdout(self) -> None:
        proc = self.proc
        if proc is None or proc.stdout is None:
            return
        for _ in iter(proc.stdout.readline, b""):
            pass

    def read_log(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate (then kill) the process; returns its exit code. Idempotent."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return proc.returncode

    def __enter__(self) -> EmulatorProcess:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    extra_args: Sequence[str] = (),
    *,
    log_path: str | os.PathLike[str] | None = None,
) -> EmulatorProcess:
    """Spawn the emulator and wait until it listens. Use as a context manager or call `.stop()`."""
    return EmulatorProcess(host, port, extra_args, log_path=log_path).start()


class EmulatorAdmin:
    """Thin `requests` wrapper around the /_emulator/* endpoints."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def _call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method, f"{self.base_url}/_emulator/{path}", json=json, params=params, timeout=self.timeout
        )
        if response.status_code != 200:
            raise EmulatorError(f"{method} /_emulator/{path} -> {response.status_code}: {response.text}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def register_pixels(self, pixels: dict[str, Any]) -> dict[str, Any]:
        """`{"<pixel_id>": "<token>"}`; a value may also be `{"token": ..., "status": "expired"}`."""
        return self._call("POST", "pixels", {"pixels": pixels})

    def pixels(self) -> dict[str, Any]:
        return self._call("GET", "pixels")["pixels"]

    def events(self, pixel_id: str | None = None, test_event_code: str | None = None) -> list[dict[str, Any]]:
        params = {
            k: v for k, v in (("pixel_id", pixel_id), ("test_event_code", test_event_code)) if v is not None
        }
        return self._call("GET", "events", params=params)["events"]

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def reset(self, pixels: bool = False) -> dict[str, Any]:
        return self._call("POST", "reset", {"pixels": pixels})

    def add_faults(self, rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("POST", "faults", {"faults": list(rules)})["added"]

    def add_fault(self, kind: str, **params: Any) -> dict[str, Any]:
        return self.add_faults([{"kind": kind, **params}])[0]

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")["faults"]

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def config(self) -> dict[str, int]:
        return self._call("GET", "config")

    def set_config(self, **changes: int) -> dict[str, int]:
        return self._call("POST", "config", changes)

    def close(self) -> None:
        self.session.close()
