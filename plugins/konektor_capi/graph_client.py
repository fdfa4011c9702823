"""HTTP client for the Conversions API endpoint: one POST per batch, retried by the retry policy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import requests
from requests.adapters import HTTPAdapter

from konektor_capi.retry_policy import Backoff, Decision, MetaError, decide
from konektor_capi.secrets import scrub_and_cut

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

    def post_once(self, pixel_id: str, body: bytes, secret: str | None = None) -> SendResult:
        """One POST; `secret` (the token inside `body`) is scrubbed from every text of the answer."""
        try:
            response = self._session.post(
                self.events_url(pixel_id),
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=(self.config.connect_timeout, self.config.read_timeout),
            )
        except requests.RequestException as exc:
            # The token is in the body, which requests does not quote in its errors; scrubbed anyway.
            message = type(exc).__name__ + ": " + scrub_and_cut(str(exc), secret, 200)
            return SendResult(attempts=1, error=MetaError(message=message))
        return _parse(response, secret)

    def send(self, pixel_id: str, body: bytes, secret: str | None = None) -> SendResult:
        """POST with retries for what the policy calls transient; returns the final answer."""
        backoff = self.config.backoff
        attempts = 0
        while True:
            result = self.post_once(pixel_id, body, secret)
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


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# Meta's texts are short; these bounds keep a misbehaving server from filling sync_logs.
MESSAGE_LIMIT = 500
TRACE_LIMIT = 100


def _parse(response: requests.Response, secret: str | None = None) -> SendResult:
    """Meta's answer, with every text it carries scrubbed of `secret` (before any cut)."""
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
            messages=tuple(scrub_and_cut(str(m), secret, MESSAGE_LIMIT) for m in _as_list(messages)),
            fbtrace_id=_trace(payload.get("fbtrace_id"), secret),
        )
    err = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    code = err.get("code")
    trace = _trace(err.get("fbtrace_id"), secret)
    return SendResult(
        attempts=1,
        fbtrace_id=trace,
        error=MetaError(
            message=scrub_and_cut(str(err.get("message") or f"HTTP {response.status_code}"), secret,
                                  MESSAGE_LIMIT),  # fmt: skip
            http_status=response.status_code,
            code=int(code) if isinstance(code, int) else None,
            subcode=err.get("error_subcode") if isinstance(err.get("error_subcode"), int) else None,
            is_transient=bool(err.get("is_transient", False)),
            fbtrace_id=trace,
            retry_after=_retry_after(response),
        ),
    )


def _as_list(messages: object) -> list:
    return messages if isinstance(messages, list) else [messages]


def _trace(value: object, secret: str | None) -> str | None:
    return scrub_and_cut(str(value), secret, TRACE_LIMIT) if value is not None else None
