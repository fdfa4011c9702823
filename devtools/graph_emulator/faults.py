"""Fault injection for the Graph API emulator.

A fault rule is a JSON object:

    {"kind": "throttle", "pixel_id": "123", "times": 2, "code": 17, "retry_after": 3}

Common keys (all optional except `kind`):
  pixel_id  only requests to this pixel match (string or number)
  skip      let the first N matching requests through untouched
  times     apply to at most N requests (omitted: no limit)
  every     apply to every Nth matching request (after `skip`)
  status    override the HTTP status of the answer the kind produces
  note      free text, echoed back by GET /_emulator/faults

Each kind is one small function `fn(rule, ctx, proceed) -> Response | DROP` registered with
`@fault_kind("name", param=types...)`. `proceed()` runs normal processing (auth, validation,
recording) and returns its Response (or DROP if an inner fault dropped the answer). A kind may
answer by itself without calling `proceed` (the request is then not processed), call it and alter
the answer, or wait first. All matching rules apply, in the order they were added; the first added
is the outermost wrapper.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus

from .rules import PERMISSION_ERROR, TOKEN_EXPIRED, MetaError, Response, new_trace_id


class _Drop:
    """Sentinel: close the connection without writing an answer."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()
Outcome = Response | _Drop
Proceed = Callable[[], Outcome]


@dataclass(frozen=True, slots=True)
class FaultContext:
    pixel_id: str
    api_version: str
    request_seq: int
    body: bytes = b""


FaultFn = Callable[[dict[str, Any], FaultContext, Proceed], Outcome]


@dataclass(frozen=True, slots=True)
class FaultKind:
    name: str
    fn: FaultFn
    params: dict[str, tuple[type, ...]]


KINDS: dict[str, FaultKind] = {}
_NUMBER = (int, float)
COMMON_PARAMS: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "pixel_id": (str, int),
    "skip": (int,),
    "times": (int,),
    "every": (int,),
    "status": (int,),
    "note": (str,),
}


def fault_kind(name: str, **params: tuple[type, ...] | type) -> Callable[[FaultFn], FaultFn]:
    """Register a fault kind; `params` maps its own rule keys to the accepted JSON types."""

    def register(fn: FaultFn) -> FaultFn:
        types = {key: (value if isinstance(value, tuple) else (value,)) for key, value in params.items()}
        KINDS[name] = FaultKind(name, fn, types)
        return fn

    return register


def _error(err: MetaError, rule: dict[str, Any], headers: list[tuple[str, str]] | None = None) -> Response:
    if "status" in rule:
        err = replace(err, status=rule["status"])
    return err.response(headers)


def _retry_after(rule: dict[str, Any]) -> list[tuple[str, str]]:
    value = rule.get("retry_after")
    if value is None:
        return []
    return [("Retry-After", str(int(value)) if float(value).is_integer() else str(value))]


# --------------------------------------------------------------------------------------------------
# Kinds
# --------------------------------------------------------------------------------------------------


@fault_kind("token_expired")
def _token_expired(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """190/463: the pixel's token expired."""
    return _error(TOKEN_EXPIRED, rule)


_PERMISSION_MESSAGES = {10: "(#10) Application does not have permission for this action"}


@fault_kind("permission", code=int)
def _permission(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """Code 200 (or `code`: 10, 200-299) "Permissions error"."""
    code = rule.get("code", 200)
    message = _PERMISSION_MESSAGES.get(code, f"(#{code}) Permissions error")
    return _error(replace(PERMISSION_ERROR, code=code, message=message), rule)


_THROTTLE = {  # code -> (default subcode, message)
    4: (None, "(#4) Application request limit reached"),
    17: (2446079, "(#17) User request limit reached"),
    32: (None, "(#32) Page request limit reached"),
    613: (1487742, "(#613) Calls to this api have exceeded the rate limit."),
}
_BUC_MESSAGE = "There have been too many calls to this ad-account. Wait a bit and try again."


@fault_kind("throttle", code=int, subcode=int, retry_after=_NUMBER)
def _throttle(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """Rate limiting: code 4 (default), 17/2446079, 32, 613/1487742 or 80000-80014; HTTP 400,
    is_transient true; `retry_after` seconds adds a Retry-After header."""
    code = rule.get("code", 4)
    default_subcode, message = _THROTTLE.get(code, (None, f"(#{code}) {_BUC_MESSAGE}"))
    err = MetaError(
        code,
        rule.get("subcode", default_subcode),
        message,
        "Too many calls",
        "The request was throttled; wait and retry.",
        transient=True,
        status=400,
    )
    return _error(err, rule, _retry_after(rule))


_TRANSIENT_MESSAGES = {
    1: "An unknown error occurred",
    2: "An unexpected error has occurred. Please retry your request later.",
}


@fault_kind("transient", code=int)
def _transient(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """Service error: code 2 (default) or 1, is_transient true, HTTP 500."""
    code = rule.get("code", 2)
    err = MetaError(
        code,
        None,
        _TRANSIENT_MESSAGES.get(code, "An unexpected error has occurred."),
        "Service error",
        "Temporary problem; retry later.",
        transient=True,
        status=500,
    )
    return _error(err, rule)


_HTML_503 = (
    b"<html><head><title>503 Service Unavailable</title></head><body>Service Unavailable</body></html>"
)


@fault_kind("http_503", body=str, retry_after=_NUMBER)
def _http_503(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """Transport-level 503 (a proxy/load balancer answering): `body` "html" (default) or "json"."""
    status = rule.get("status", 503)
    headers = _retry_after(rule)
    if rule.get("body", "html") == "json":
        payload = {
            "error": {
                "message": "Service temporarily unavailable",
                "type": "FacebookApiException",
                "code": 2,
                "is_transient": True,
                "fbtrace_id": new_trace_id(),
            }
        }
        return Response(status, payload, headers=headers)
    return Response(status, body=_HTML_503, content_type="text/html; charset=utf-8", headers=headers)


@fault_kind("slow", seconds=_NUMBER)
def _slow(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """Wait `seconds` (default 2) before processing and answering (client timeouts)."""
    time.sleep(float(rule.get("seconds", 2.0)))
    return proceed()


@fault_kind("reject_event", event_id=str)
def _reject_event(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """Meta rejecting a whole batch for one bad event it does not name: any batch that holds the event
    with this `event_id` fails with a plain code 100; batches without it go through."""
    needle = rule.get("event_id", "").encode()
    if needle and (b'"event_id":"' + needle + b'"') in ctx.body:
        return _error(MetaError(100, None, "Invalid parameter"), rule)
    return proceed()


@fault_kind("drop_after_accept")
def _drop_after_accept(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """Process and record the request normally, then close the connection without answering."""
    proceed()
    return DROP


@fault_kind("partial", drop_events=int, events_received=int, messages=list)
def _partial(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """A 200 that did not take everything: `messages` non-empty and `events_received` lowered by
    `drop_events` (default 1) or set to `events_received`. Non-200 answers pass through."""
    outcome = proceed()
    if isinstance(outcome, Response) and outcome.status == 200 and outcome.payload is not None:
        received = outcome.payload.get("events_received", 0)
        if "events_received" in rule:
            received = rule["events_received"]
        else:
            received = max(0, received - rule.get("drop_events", 1))
        outcome.payload["events_received"] = received
        outcome.payload["messages"] = list(rule.get("messages") or ["Some events were not processed."])
    return outcome


_ECHO_FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda t: t,
    "quote": lambda t: quote(t, safe=""),
    "quote_plus": lambda t: quote_plus(t, safe=""),
    "json": lambda t: json.dumps(t)[1:-1],  # as text inside a JSON string: the client sees the escapes
}


def _request_token(body: bytes) -> str:
    try:
        token = json.loads(body).get("access_token")
    except (ValueError, AttributeError):
        token = (parse_qs(body.decode("utf-8", "replace")).get("access_token") or [None])[0]
    return token if isinstance(token, str) else ""


@fault_kind("echo_token", answer=str, forms=list, pad=int)
def _echo_token(rule: dict[str, Any], ctx: FaultContext, proceed: Proceed) -> Outcome:
    """A server that repeats the request's body token in its answer (tests of a client's scrubbing).
    Each of `forms` ("raw", "quote", "quote_plus", "json"; default all) is echoed, after `pad`
    (default 0) characters "x" so that a client's cut can fall inside the token. `answer` "partial"
    (default): the request is processed, and the 200 has one message per form, `events_received`
    one lower and the raw token as `fbtrace_id`; "error": a 400, code 190, whose message holds every form
    and whose `fbtrace_id` is the raw token (request not processed)."""
    token = _request_token(ctx.body)
    names = rule.get("forms") or list(_ECHO_FORMS)
    unknown = [n for n in names if n not in _ECHO_FORMS]
    if unknown:
        return _error(MetaError(1, None, f"emulator: unknown echo_token forms {unknown}", status=500), rule)
    pad = "x" * rule.get("pad", 0)
    echoes = [f"{pad}access_token={_ECHO_FORMS[n](token)}" for n in names]
    if rule.get("answer", "partial") == "error":
        err = MetaError(190, None, "Invalid OAuth access token: " + " | ".join(echoes))
        response = _error(err, rule)
        response.payload["error"]["fbtrace_id"] = token
        return response
    outcome = proceed()
    if isinstance(outcome, Response) and outcome.status == 200 and outcome.payload is not None:
        outcome.payload["events_received"] = max(0, outcome.payload.get("events_received", 0) - 1)
        outcome.payload["messages"] = echoes
        outcome.payload["fbtrace_id"] = token
    return outcome


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------


class FaultRule:
    __slots__ = ("spec", "kind", "pixel_id", "skip", "times", "every", "seen", "applied")

    def __init__(self, spec: Any):
        if not isinstance(spec, dict):
            raise ValueError("a fault rule must be an object")
        kind = KINDS.get(spec.get("kind"))  # type: ignore[arg-type]
        if kind is None:
            raise ValueError(f"unknown fault kind {spec.get('kind')!r}; known: {sorted(KINDS)}")
        allowed = {**COMMON_PARAMS, **kind.params}
        for key, value in spec.items():
            types = allowed.get(key)
            if types is None:
                raise ValueError(f"fault {kind.name}: unknown key {key!r}; allowed: {sorted(allowed)}")
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise ValueError(f"fault {kind.name}: {key} has the wrong type")
        for key in ("skip", "times", "every"):
            if key in spec and spec[key] < (0 if key == "skip" else 1):
                raise ValueError(f"fault {kind.name}: {key} is out of range")
        self.spec = dict(spec)
        self.kind = kind
        self.pixel_id = str(spec["pixel_id"]) if "pixel_id" in spec else None
        self.skip = spec.get("skip", 0)
        self.times = spec.get("times")
        self.every = spec.get("every")
        self.seen = 0
        self.applied = 0

    def take(self, pixel_id: str) -> bool:
        """Count a matching request and say whether the fault applies to it (caller holds the lock)."""
        if self.pixel_id is not None and pixel_id != self.pixel_id:
            return False
        if self.times is not None and self.applied >= self.times:
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.every is not None and (self.seen - self.skip) % self.every:
            return False
        self.applied += 1
        return True

    def describe(self) -> dict[str, Any]:
        exhausted = self.times is not None and self.applied >= self.times
        return {**self.spec, "seen": self.seen, "applied": self.applied, "exhausted": exhausted}


class FaultRegistry:
    """Thread-safe list of fault rules."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, specs: Any) -> list[dict[str, Any]]:
        if not isinstance(specs, list):
            raise ValueError('"faults" must be a list of rules')
        rules = [FaultRule(spec) for spec in specs]  # validate all before adding any
        with self._lock:
            self._rules.extend(rules)
        return [rule.describe() for rule in rules]

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def select(self, pixel_id: str) -> list[FaultRule]:
        if not self._rules:  # fast path: no faults configured
            return []
        with self._lock:
            return [rule for rule in self._rules if rule.take(pixel_id)]

    @staticmethod
    def run(selected: list[FaultRule], ctx: FaultContext, proceed: Proceed) -> Outcome:
        call = proceed
        for rule in reversed(selected):
            call = _bind(rule, ctx, call)
        return call()


def _bind(rule: FaultRule, ctx: FaultContext, inner: Proceed) -> Proceed:
    return lambda: rule.kind.fn(rule.spec, ctx, inner)
