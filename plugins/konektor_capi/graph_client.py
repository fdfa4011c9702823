"""HTTP client for the Conversions API endpoint: one POST per batch, retried by the retry policy."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from konektor_capi.config_error import ConfigError
from konektor_capi.in_flight import DEFAULT_MAX_IN_FLIGHT, Gate
from konektor_capi.retry_policy import Backoff, Decision, MetaError, decide
from konektor_capi.scrub import scrub_and_cut

log = logging.getLogger(__name__)

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
    # Requests a sync task keeps in flight at most (see in_flight.py); throttling lowers it for a while.
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT

    @classmethod
    def from_mapping(cls, host: str | None, extra: Mapping | None) -> GraphApiConfig:
        """The settings of a base URL and the connection's extra; ConfigError names the first wrong one.

        Reads only GRAPH_KEYS of `extra` (the caller decides what else may be there). Nothing has a
        default endpoint: no host is an error, not Meta's production API.
        """
        extra = extra or {}
        backoff = Backoff(
            base=_number(extra, "backoff_base", Backoff.base),
            cap=_number(extra, "backoff_cap", Backoff.cap),
            max_retries=_count(extra, "max_retries", Backoff.max_retries),
        )
        return cls(
            base_url=checked_base_url(host),
            api_version=_api_version(extra),
            connect_timeout=_number(extra, "connect_timeout", cls.connect_timeout),
            read_timeout=_number(extra, "read_timeout", cls.read_timeout),
            backoff=backoff,
            max_in_flight=_in_flight(extra),
        )


GRAPH_KEYS = frozenset(
    {"api_version", "connect_timeout", "read_timeout", "max_retries", "backoff_base", "backoff_cap"}
    | {"max_in_flight"}
)
API_VERSION = re.compile(r"v[0-9]+\.[0-9]+")


def checked_base_url(host: str | None) -> str:
    """`host` as the base URL requests go to: an http(s) URL with a host name, nothing after a path."""
    if host is None or not str(host).strip():
        raise ConfigError("host", f"is empty: give the Graph API base URL, e.g. {DEFAULT_BASE_URL}")
    text = str(host).strip()
    safe = _without_userinfo(text)  # what an error may quote: before an '@' there may be a password
    if "://" not in text:
        raise ConfigError("host", f"{_shown(safe)} has no scheme: write it as https://{safe}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ConfigError("host", f"{_shown(safe)} is not a valid URL") from None
    shown = _shown(safe)
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError("host", f"{shown} is not an http:// or https:// URL")
    if not parts.hostname:
        raise ConfigError("host", f"{shown} has no host name")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("host", f"{shown} must not hold a user or password")
    if parts.query or parts.fragment:
        raise ConfigError("host", f"{shown} must not have a query or fragment")
    netloc = parts.hostname if port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        netloc = f"[{parts.hostname}]" + (f":{port}" if port is not None else "")
    return f"{parts.scheme.lower()}://{netloc}{parts.path}".rstrip("/")


def _without_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    authority, slash, path = rest.partition("/")
    return scheme + sep + authority.rpartition("@")[2] + slash + path


def _shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _unset(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _api_version(extra: Mapping) -> str:
    value = extra.get("api_version")
    if _unset(value):
        return DEFAULT_API_VERSION
    if not isinstance(value, str) or not API_VERSION.fullmatch(value.strip()):
        raise ConfigError("extra.api_version", f"{_shown(value)} is not like {DEFAULT_API_VERSION!r}")
    return value.strip()


def _parsed(extra: Mapping, key: str) -> float | None:
    """The value of `key` as a finite number (connection URIs give strings), None when not set."""
    value = extra.get(key)
    if _unset(value):
        return None
    if not isinstance(value, bool):
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            number = math.nan
        if math.isfinite(number):
            return number
    raise ConfigError(f"extra.{key}", f"{_shown(value)} is not a number")


def _number(extra: Mapping, key: str, default: float) -> float:
    number = _parsed(extra, key)
    if number is None:
        return float(default)
    if number <= 0:
        raise ConfigError(f"extra.{key}", f"{_shown(extra[key])} must be greater than 0 (seconds)")
    return number


def _count(extra: Mapping, key: str, default: int) -> int:
    number = _parsed(extra, key)
    if number is None:
        return default
    # 0 is meaningful (send once, never retry); a fraction or a negative count is not.
    if number < 0 or not number.is_integer():
        raise ConfigError(f"extra.{key}", f"{_shown(extra[key])} is not a whole number >= 0")
    return int(number)


def _in_flight(extra: Mapping) -> int:
    count = _count(extra, "max_in_flight", GraphApiConfig.max_in_flight)
    if count < 1:
        raise ConfigError("extra.max_in_flight", f"{_shown(extra['max_in_flight'])} must be at least 1")
    return count


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
        # Connection reuse: a keep-alive connection per request in flight serves every batch of a task.
        size = max(4, config.max_in_flight)
        self._session.mount("http://", HTTPAdapter(pool_maxsize=size, max_retries=0))
        self._session.mount("https://", HTTPAdapter(pool_maxsize=size, max_retries=0))

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

    def send(
        self, pixel_id: str, body: bytes, secret: str | None = None, gate: Gate | None = None
    ) -> SendResult:
        """POST with retries for what the policy calls transient; returns the final answer. With a
        `gate`, each attempt waits for a slot of it and tells it how Meta answered."""
        backoff = self.config.backoff
        attempts = 0
        while True:
            if gate is None:
                result = self.post_once(pixel_id, body, secret)
            else:
                result = gate.call(self.post_once, pixel_id, body, secret)
            attempts += 1
            if result.ok:
                return _with_attempts(result, attempts, None)
            decision = decide(result.error)
            if decision is not Decision.RETRY or attempts > backoff.max_retries:
                return _with_attempts(result, attempts, decision)
            wait = backoff.delay(attempts, result.error.retry_after)
            # An operator reading the task log sees why it is slow; the reason is already scrubbed.
            log.warning("pixel %s: %s; retry %d of %d in %.2fs", pixel_id, result.error.reason,
                        attempts, backoff.max_retries, wait)  # fmt: skip
            self._sleep(wait)


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
            message=scrub_and_cut(
                str(err.get("message") or f"HTTP {response.status_code}"), secret, MESSAGE_LIMIT
            ),  # fmt: skip
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
