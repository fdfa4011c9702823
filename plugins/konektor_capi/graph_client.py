"""HTTP client for the Conversions API endpoint: one POST per batch, retried by the retry policy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import requests
from requests.adapters import HTTPAdapter

from konektor_capi.retry_policy import Backoff, Decision, MetaError, decide

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"


@dataclass(frozen=True)
class GraphApiConfig:
    base_url: str = DEFAULT_BASE_URL
    api_version: str = DEFAULT_API_VERSION
    connect_timeout: float = 3.0
    # Meta: most answers come in under 600 ms; 1.5 s is typical. A 1000-event batch needs more room.
    read_timeout: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def from_mapping(cls, host: str | None, extra: dict | None) -> GraphApiConfig:
        extra = extra or {}
        backoff = Backoff(
            base=float(extra.get("backoff_base", Backoff.base)),
            cap=float(extra.get("backoff_cap", Backoff.cap)),
            max_retries=int(extra.get("max_retries", Backoff.max_retries)),
        )
        return cls(
            base_url=(host or DEFAULT_BASE_URL).rstrip("/"),
            api_version=str(extra.get("api_version", DEFAULT_API_VERSION)),
            connect_timeout=float(extra.get("connect_timeout", cls.connect_timeout)),
            read_timeout=float(extra.get("read_timeout", cls.read_timeout)),
            backoff=backoff,
        )


@dataclass(frozen=True)
class SendResult:
    attempts: int
    events_received: int = 0
    messages: tuple[str, ...] = ()
    fbtrace_id: str | None = None
    error: MetaError | None = None
    decision: Decision | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class GraphApiClient:
    def __init__(
        self,
        config: GraphApiConfig,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._session = session or requests.Session()
        # Connection reuse: one keep-alive connection per host serves every batch of a task.
        self._session.mount("http://", HTTPAdapter(pool_maxsize=4, max_retries=0))
        self._session.mount("https://", HTTPAdapter(pool_maxsize=4, max_retries=0))

    def events_url(self, pixel_id: str) -> str:
        return f"{self.config.base_url}/{self.config.api_version}/{pixel_id}/events"

    def close(self) -> None:
        self._session.close()

    def post_once(self, pixel_id: str, body: bytes) -> SendResult:
        try:
            response = self._session.post(
                self.events_url(pixel_id),
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=(self.config.connect_timeout, self.config.read_timeout),
            )
        except requests.RequestException as exc:
            # The exception text names the URL only; the token is in the body, never echoed.
            return SendResult(attempts=1, error=MetaError(message=type(exc).__name__ + ": " + _short(exc)))
        return _parse(response)

    def send(self, pixel_id: str, body: bytes) -> SendResult:
        """POST with retries for what the policy calls transient; returns the final answer."""
        backoff = self.config.backoff
        attempts = 0
        while True:
            result = self.post_once(pixel_id, body)
            attempts += 1
            if result.ok:
                return _with_attempts(result, attempts, None)
            decision = decide(result.error)
            if decision is not Decision.RETRY or attempts > backoff.max_retries:
                return _with_attempts(result, attempts, decision)
            self._sleep(backoff.delay(attempts, result.error.retry_after))


def _with_attempts(result: SendResult, attempts: int, decision: Decision | None) -> SendResult:
    return SendResult(
        attempts=attempts,
        events_received=result.events_received,
        messages=result.messages,
        fbtrace_id=result.fbtrace_id,
        error=result.error,
        decision=decision,
    )


def _short(exc: Exception, limit: int = 200) -> str:
    return str(exc)[:limit]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _parse(response: requests.Response) -> SendResult:
    try:
        payload = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    if response.status_code == 200 and "error" not in payload:
        messages = payload.get("messages") or []
        return SendResult(
            attempts=1,
            events_received=int(payload.get("events_received") or 0),
            messages=tuple(str(m) for m in messages),
            fbtrace_id=payload.get("fbtrace_id"),
        )
    err = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    code = err.get("code")
    return SendResult(
        attempts=1,
        fbtrace_id=err.get("fbtrace_id"),
        error=MetaError(
            message=str(err.get("message") or f"HTTP {response.status_code}")[:500],
            http_status=response.status_code,
            code=int(code) if isinstance(code, int) else None,
            subcode=err.get("error_subcode") if isinstance(err.get("error_subcode"), int) else None,
            is_transient=bool(err.get("is_transient", False)),
            fbtrace_id=err.get("fbtrace_id"),
            retry_after=_retry_after(response),
        ),
    )
