"""HTTP side of the Graph API emulator: a ThreadingHTTPServer speaking HTTP/1.1 with keep-alive.

`EmulatorApp` holds the state (pixels/tokens, dedup sets, stored events, counters, faults) and turns
(method, path, query, headers, body) into a `Response`; `GraphHandler` does the HTTP plumbing and
writes each answer with a single send (status line, headers with Content-Length, body).

Tokens never reach the logs: the access log prints the path without its query string, and every
log line goes through `scrub()`.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import orjson

from .faults import DROP, FaultContext, FaultRegistry, Outcome
from .rules import (
    BODY_UNPARSEABLE,
    DATA_NOT_ARRAY,
    DATA_REQUIRED,
    PERMISSION_ERROR,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_INVALIDATED,
    TOKEN_MISSING,
    MetaError,
    Response,
    RuleConfig,
    data_too_long,
    make_batch_checker,
    new_trace_id,
    nonexisting_field,
    unknown_object,
    unknown_path,
)

EVENTS_PATH = re.compile(r"/(v\d+\.\d+)/([^/]+)/events/?")
PIXEL_PATH = re.compile(r"/(v\d+\.\d+)/([^/]+)/?")
PIXEL_FIELDS = ("id", "name")
MAX_BODY_BYTES = 64 * 1024 * 1024
_HIDDEN_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-access-token"})
_REDACT = re.compile(r"(access_token=)[^&\s'\"]*|(\b(?:Bearer|OAuth)\s+)[^\s'\"]+", re.IGNORECASE)
_INTERNAL_ERROR = MetaError(
    1, None, "An unknown error occurred", "Internal error", "", transient=True, status=500
)
PIXEL_STATUSES = {
    "active": None,
    "expired": TOKEN_EXPIRED,
    "invalidated": TOKEN_INVALIDATED,
    "no_permission": PERMISSION_ERROR,
}


def scrub(text: str) -> str:
    """Remove anything that looks like a token (query parameter or Authorization value)."""
    return _REDACT.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


def bearer_token(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    return None


def query_token(query: str) -> str | None:
    if "access_token" not in query:
        return None
    values = parse_qs(query, keep_blank_values=True).get("access_token")
    return values[-1] if values else None


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """JSON object, or form fields (`data` stays a JSON string here). Raises ValueError."""
    if not body:
        return {}
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded" or (ctype != "application/json" and body[:1] != b"{"):
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        return {key: values[-1] for key, values in fields.items()}
    parsed = orjson.loads(body)
    if type(parsed) is not dict:
        raise ValueError("body must be a JSON object")
    return parsed


@dataclass(frozen=True, slots=True)
class PixelEntry:
    token: str
    status: str = "active"


def parse_pixels(raw: Any) -> dict[str, PixelEntry]:
    """`{"<pixel>": "<token>"}` or `{"<pixel>": {"token": "...", "status": "expired"}}`."""
    if not isinstance(raw, dict):
        raise ValueError('"pixels" must be an object mapping pixel id to token')
    pixels: dict[str, PixelEntry] = {}
    for pixel_id, value in raw.items():
        if isinstance(value, str):
            entry = PixelEntry(value)
        elif isinstance(value, dict) and isinstance(value.get("token"), str):
            status = value.get("status", "active")
            if status not in PIXEL_STATUSES:
                raise ValueError(f"pixel {pixel_id}: status must be one of {sorted(PIXEL_STATUSES)}")
            entry = PixelEntry(value["token"], status)
        else:
            raise ValueError(f"pixel {pixel_id}: value must be a token string or {{'token', 'status'}}")
        if not entry.token:
            raise ValueError(f"pixel {pixel_id}: empty token")
        pixels[str(pixel_id)] = entry
    return pixels


class Stats:
    """Counters; mutated only under EmulatorApp.lock."""

    def __init__(self) -> None:
        self.requests = 0
        self.by_status: Counter[str] = Counter()
        self.events_received = 0
        self.events_rejected = 0
        self.accepted_distinct = 0
        self.duplicates = 0
        self.dropped_responses = 0
        self.errors_by_code: Counter[str] = Counter()
        self.faults_applied: Counter[str] = Counter()
        self.per_pixel: dict[str, dict[str, int]] = {}
        self.handler_seconds = 0.0
        self.admin_requests = 0
        self.peak_in_flight = 0  # the most events POSTs held at once (round trip included)

    def pixel(self, pixel_id: str) -> dict[str, int]:
        counters = self.per_pixel.get(pixel_id)
        if counters is None:
            counters = self.per_pixel[pixel_id] = {
                "requests": 0,
                "events_received": 0,
                "accepted_distinct": 0,
                "duplicates": 0,
                "events_rejected": 0,
                "errors": 0,
            }
        return counters

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "requests_by_status": dict(self.by_status),
            "events_received": self.events_received,
            "events_rejected": self.events_rejected,
            "accepted_distinct": self.accepted_distinct,
            "duplicates": self.duplicates,
            "dropped_responses": self.dropped_responses,
            "errors_by_code": dict(self.errors_by_code),
            "faults_applied": dict(self.faults_applied),
            "per_pixel": {pid: dict(counters) for pid, counters in self.per_pixel.items()},
            "handler_seconds": round(self.handler_seconds, 6),
            "admin_requests": self.admin_requests,
            "peak_in_flight": self.peak_in_flight,
        }


def _json(status: int, payload: Any) -> Response:
    return Response(status, payload)


class EmulatorApp:
    """State and request logic, independent of the socket plumbing."""

    def __init__(
        self,
        *,
        pixels: dict[str, PixelEntry] | None = None,
        accept_any_token: bool = False,
        store_events: bool = True,
        config: RuleConfig | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.accept_any_token = accept_any_token
        self.store_events = store_events
        self.started_at = time.time()
        self.pixels: dict[str, PixelEntry] = dict(pixels or {})
        self._known_tokens = {entry.token for entry in self.pixels.values()}
        self._initial_config = config or RuleConfig()
        self._set_config(self._initial_config)
        self.faults = FaultRegistry()
        self.seq = 0
        self.in_flight = 0  # events POSTs being handled now; outlives a reset (they are still open)
        # per pixel: "<event_name>\x1f<event_id>" keys (plain strings: compact and not GC-tracked)
        self.dedup: dict[str, set[str]] = {}
        self.events: list[dict[str, Any]] = []
        self.stats = Stats()
        self._admin_routes = {
            ("GET", "/_emulator/health"): self._admin_health,
            ("GET", "/_emulator/pixels"): self._admin_list_pixels,
            ("POST", "/_emulator/pixels"): self._admin_register_pixels,
            ("GET", "/_emulator/events"): self._admin_events,
            ("GET", "/_emulator/stats"): self._admin_stats,
            ("POST", "/_emulator/reset"): self._admin_reset,
            ("GET", "/_emulator/faults"): self._admin_list_faults,
            ("POST", "/_emulator/faults"): self._admin_add_faults,
            ("DELETE", "/_emulator/faults"): self._admin_clear_faults,
            ("GET", "/_emulator/config"): self._admin_get_config,
            ("POST", "/_emulator/config"): self._admin_set_config,
        }

    # --- configuration ----------------------------------------------------------------------------

    def _set_config(self, cfg: RuleConfig) -> None:
        # one tuple, swapped atomically: request threads read it without the lock
        self.rules = (cfg, make_batch_checker(cfg))

    @property
    def config(self) -> RuleConfig:
        return self.rules[0]

    # --- Graph API --------------------------------------------------------------------------------

    def handle_graph(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Outcome:
        if method == "GET" and (read := PIXEL_PATH.fullmatch(path)) is not None:
            response = self._read_pixel(read.group(2), query, headers)
            self._count(None, response, ())
            return response
        match = EVENTS_PATH.fullmatch(path)
        if match is None or method != "POST":
            response = unknown_path(path).response()
            self._count(None, response, ())
            return response
        version, pixel_id = match.groups()
        with self.lock:
            self.seq += 1
            seq = self.seq
            self.in_flight += 1
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.in_flight)
        try:
            ctx = FaultContext(pixel_id, version, seq, body)
            selected = self.faults.select(pixel_id)
            if selected:
                outcome = FaultRegistry.run(selected, ctx, lambda: self._process(ctx, query, headers, body))
            else:
                outcome = self._process(ctx, query, headers, body)
            self._count(pixel_id, outcome, selected)
            self._round_trip()
            return outcome
        finally:
            with self.lock:
                self.in_flight -= 1

    def _round_trip(self) -> None:
        """Holds the answer as long as Meta would take: round_trip_ms plus a uniform share of the jitter."""
        cfg = self.config
        jitter = cfg.round_trip_jitter_ms
        delay = cfg.round_trip_ms + (random.uniform(0, jitter) if jitter else 0)
        if delay > 0:
            time.sleep(delay / 1000)

    def _authorize(self, pixel_id: str, token: Any) -> MetaError | None:
        if not token or type(token) is not str:
            return TOKEN_MISSING
        numeric = pixel_id.isascii() and pixel_id.isdigit()
        if self.accept_any_token:
            return None if numeric else unknown_object(pixel_id)
        entry = self.pixels.get(pixel_id)
        if entry is None or not numeric or token != entry.token:
            # a token Meta can parse (registered for some pixel) but not for this object -> 100/33;
            # a token it cannot parse at all -> 190
            return unknown_object(pixel_id) if token in self._known_tokens else TOKEN_INVALID
        return PIXEL_STATUSES[entry.status]

    def _read_pixel(self, pixel_id: str, query: str, headers: Any) -> Response:
        """`GET /{v}/{pixel_id}?fields=id,name`: what a token check reads. Same token, pixel and status
        rules as sending; token from `Authorization: Bearer|OAuth` or the query `access_token`.
        Faults do not apply (they model the events endpoint); counted in the global stats only."""
        token = bearer_token(headers.get("Authorization")) or query_token(query)
        err = self._authorize(pixel_id, token)
        if err is not None:
            if err.code == 100 and err.subcode == 33:
                err = unknown_object(pixel_id, "get")
            return err.response()
        requested = parse_qs(query).get("fields", [",".join(PIXEL_FIELDS)])[-1]
        fields = [f.strip() for f in requested.split(",") if f.strip()] or list(PIXEL_FIELDS)
        for name in fields:
            if name not in PIXEL_FIELDS:
                return nonexisting_field(name).response()
        values = {"id": pixel_id, "name": f"Emulated pixel {pixel_id}"}
        payload = {"id": pixel_id, **{name: values[name] for name in fields}}  # Meta always sends id
        return Response(200, payload, headers=[("x-fb-trace-id", new_trace_id())])

    def _process(self, ctx: FaultContext, query: str, headers: Any, body: bytes) -> Response:
        try:
            params = parse_body(body, headers.get("Content-Type"))
        except ValueError:
            return BODY_UNPARSEABLE.response()
        token = params.get("access_token") or bearer_token(headers.get("Authorization")) or query_token(query)
        err = self._authorize(ctx.pixel_id, token)
        if err is not None:
            return err.response()
        data = params.get("data")
        if type(data) is str and data:
            try:
                data = orjson.loads(data)
            except orjson.JSONDecodeError:
                return BODY_UNPARSEABLE.response()
        if data is None or data == "" or data == []:
            return DATA_REQUIRED.response()
        if type(data) is not list:
            return DATA_NOT_ARRAY.response()
        cfg, check_batch = self.rules
        if len(data) > cfg.max_events:
            err = data_too_long(cfg.max_events)
        else:
            err = check_batch(data, int(time.time()) + cfg.clock_offset_seconds)
        if err is not None:
            with self.lock:
                self.stats.events_rejected += len(data)
                self.stats.pixel(ctx.pixel_id)["events_rejected"] += len(data)
            return err.response()
        self._record(ctx, data, params, headers, token)
        trace = new_trace_id()
        payload = {"events_received": len(data), "messages": [], "fbtrace_id": trace}
        return Response(200, payload, headers=[("x-fb-trace-id", trace)])

    def _record(
        self, ctx: FaultContext, data: list, params: dict[str, Any], headers: Any, token: str
    ) -> None:
        n = len(data)
        if not self.store_events:
            keys = []
            for ev in data:
                eid = ev.get("event_id")
                if eid is not None and eid != "":
                    keys.append(f"{ev['event_name']}\x1f{eid}")
            with self.lock:
                seen = self.dedup.get(ctx.pixel_id)
                if seen is None:
                    seen = self.dedup[ctx.pixel_id] = set()
                before = len(seen)
                seen.update(keys)
                new = len(seen) - before
                self._count_accepted(ctx.pixel_id, n, new + n - len(keys), len(keys) - new)
            return
        kept_headers = {
            name: value
            for name, value in headers.items()
            if name.lower() not in _HIDDEN_HEADERS and token not in value
        }
        meta = {
            "pixel_id": ctx.pixel_id,
            "api_version": ctx.api_version,
            "request_seq": ctx.request_seq,
            "test_event_code": params.get("test_event_code"),
            "partner_agent": params.get("partner_agent"),
            "received_at": time.time(),
            "headers": kept_headers,
        }
        distinct = 0
        with self.lock:
            seen = self.dedup.get(ctx.pixel_id)
            if seen is None:
                seen = self.dedup[ctx.pixel_id] = set()
            append = self.events.append
            for ev in data:
                eid = ev.get("event_id")
                duplicate = False
                if eid is not None and eid != "":
                    key = f"{ev['event_name']}\x1f{eid}"
                    if key in seen:
                        duplicate = True
                    else:
                        seen.add(key)
                        distinct += 1
                else:
                    distinct += 1
                append({**meta, "duplicate": duplicate, "event": ev})
            self._count_accepted(ctx.pixel_id, n, distinct, n - distinct)

    def _count_accepted(self, pixel_id: str, received: int, distinct: int, duplicates: int) -> None:
        stats = self.stats
        stats.events_received += received
        stats.accepted_distinct += distinct
        stats.duplicates += duplicates
        counters = stats.pixel(pixel_id)
        counters["events_received"] += received
        counters["accepted_distinct"] += distinct
        counters["duplicates"] += duplicates

    def _count(self, pixel_id: str | None, outcome: Outcome, selected: Any) -> None:
        error_key = None
        if outcome is DROP:
            status = "dropped"
        else:
            assert isinstance(outcome, Response)
            status = str(outcome.status)
            error = outcome.payload.get("error") if outcome.payload else None
            if isinstance(error, dict):
                subcode = error.get("error_subcode")
                error_key = (
                    f"{error.get('code')}/{subcode}" if subcode is not None else str(error.get("code"))
                )
        with self.lock:
            stats = self.stats
            stats.requests += 1
            stats.by_status[status] += 1
            if outcome is DROP:
                stats.dropped_responses += 1
            if error_key is not None:
                stats.errors_by_code[error_key] += 1
            for rule in selected:
                stats.faults_applied[rule.kind.name] += 1
            if pixel_id is not None:
                counters = stats.pixel(pixel_id)
                counters["requests"] += 1
                if status != "200":
                    counters["errors"] += 1

    def add_handler_time(self, seconds: float) -> None:
        with self.lock:
            self.stats.handler_seconds += seconds

    # --- admin ------------------------------------------------------------------------------------

    def handle_admin(self, method: str, path: str, query: str, body: bytes) -> Response:
        route = (method, path.rstrip("/"))
        handler = self._admin_routes.get(route)
        if handler is None:
            known = any(p == route[1] for _, p in self._admin_routes)
            return _json(405 if known else 404, {"error": f"no admin endpoint {method} {route[1]}"})
        try:
            payload = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError:
            return _json(400, {"error": "admin body must be JSON"})
        if not isinstance(payload, dict):
            return _json(400, {"error": "admin body must be a JSON object"})
        with self.lock:
            self.stats.admin_requests += 1
        try:
            return handler(payload, parse_qs(query))
        except ValueError as exc:
            return _json(400, {"error": str(exc)})

    def _admin_health(self, payload: dict, query: dict) -> Response:
        return _json(
            200,
            {
                "status": "ok",
                "uptime_seconds": round(time.time() - self.started_at, 3),
                "store_events": self.store_events,
                "accept_any_token": self.accept_any_token,
                "pixels": len(self.pixels),
            },
        )

    def _admin_list_pixels(self, payload: dict, query: dict) -> Response:
        with self.lock:
            pixels = {pid: {"status": entry.status} for pid, entry in self.pixels.items()}
        return _json(200, {"pixels": pixels})  # never the tokens

    def _admin_register_pixels(self, payload: dict, query: dict) -> Response:
        pixels = parse_pixels(payload.get("pixels"))
        with self.lock:
            self.pixels.update(pixels)
            self._known_tokens = {entry.token for entry in self.pixels.values()}
            registered = sorted(self.pixels)
        return _json(200, {"registered": sorted(pixels), "pixels": registered})

    def _admin_events(self, payload: dict, query: dict) -> Response:
        pixel_id = query.get("pixel_id", [None])[-1]
        test_code = query.get("test_event_code", [None])[-1]
        with self.lock:
            events = list(self.events)
        if pixel_id is not None:
            events = [rec for rec in events if rec["pixel_id"] == pixel_id]
        if test_code is not None:
            events = [rec for rec in events if rec["test_event_code"] == test_code]
        return _json(200, {"store_events": self.store_events, "count": len(events), "events": events})

    def _admin_stats(self, payload: dict, query: dict) -> Response:
        with self.lock:
            snapshot = self.stats.snapshot()
        return _json(200, snapshot)

    def _admin_reset(self, payload: dict, query: dict) -> Response:
        clear_pixels = payload.get("pixels") is True
        self.faults.clear()
        with self.lock:
            self.events = []
            self.dedup = {}
            self.stats = Stats()
            self.stats.peak_in_flight = self.in_flight
            self.seq = 0
            if clear_pixels:
                self.pixels = {}
                self._known_tokens = set()
            self._set_config(self._initial_config)
        return _json(200, {"reset": True, "pixels_cleared": clear_pixels})

    def _admin_list_faults(self, payload: dict, query: dict) -> Response:
        return _json(200, {"faults": self.faults.describe()})

    def _admin_add_faults(self, payload: dict, query: dict) -> Response:
        added = self.faults.add(payload.get("faults"))
        return _json(200, {"added": added, "faults": self.faults.describe()})

    def _admin_clear_faults(self, payload: dict, query: dict) -> Response:
        self.faults.clear()
        return _json(200, {"faults": []})

    def _admin_get_config(self, payload: dict, query: dict) -> Response:
        return _json(200, self.config.as_dict())

    def _admin_set_config(self, payload: dict, query: dict) -> Response:
        with self.lock:
            self._set_config(self.config.updated(payload))
        return _json(200, self.config.as_dict())


# --------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------


class GraphHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graph-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after 5 minutes
    server: GraphEmulatorServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        start = time.perf_counter()
        path, _, query = self.path.partition("?")
        body = self._read_body()
        if body is None:
            return
        app = self.server.app
        admin = path.startswith("/_emulator/")
        try:
            if admin:
                outcome = app.handle_admin(method, path, query, body)
            else:
                outcome = app.handle_graph(method, path, query, self.headers, body)
        except Exception as exc:  # never kill the connection thread silently
            self.log_message(
                "internal error on %s %s: %s",
                method,
                path,
                "".join(traceback.format_exception_only(type(exc), exc)).strip(),
            )
            outcome = _INTERNAL_ERROR.response()
        if outcome is DROP:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            status, size = "dropped", 0
        else:
            assert isinstance(outcome, Response)
            status, size = outcome.status, self._write(outcome)
        elapsed = time.perf_counter() - start
        if not admin:
            app.add_handler_time(elapsed)
        if self.server.access_log:
            self.log_message('"%s %s" %s %s %.2fms', method, path, status, size, elapsed * 1000)

    def _read_body(self) -> bytes | None:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            self.close_connection = True
            return None
        if n > MAX_BODY_BYTES:
            self.send_error(413, "Request body too large")
            self.close_connection = True
            return None
        return self.rfile.read(n)

    def _read_chunked(self) -> bytes | None:
        parts = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.send_error(400, "Bad chunked encoding")
                self.close_connection = True
                return None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                self.send_error(413, "Request body too large")
                self.close_connection = True
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)  # CRLF after the chunk

    def _write(self, resp: Response) -> int:
        body = resp.body if resp.body is not None else orjson.dumps(resp.payload)
        if resp.close:
            self.close_connection = True
        reason = self.responses.get(resp.status, ("",))[0]
        head = (
            f"HTTP/1.1 {resp.status} {reason}\r\n"
            f"Date: {self.date_time_string()}\r\n"
            f"Server: {self.server_version}\r\n"
            f"Content-Type: {resp.content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        for name, value in resp.headers:
            head += f"{name}: {value}\r\n"
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)
        return len(body)

    # --- logging: never the query string, the body or the Authorization header ------------------

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # used by send_error(); self.requestline would include the query string
        command = getattr(self, "command", None) or "-"
        path = (getattr(self, "path", None) or "-").partition("?")[0]
        code_value = code.value if hasattr(code, "value") else code
        self.log_message('"%s %s" %s %s', command, path, code_value, size)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if not self.server.access_log and not format.startswith("internal error"):
            return
        line = format % args if args else format
        sys.stderr.write(f"{self.address_string()} - [{self.log_date_time_string()}] {scrub(line)}\n")


class GraphEmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: EmulatorApp, *, access_log: bool = True):
        self.app = app
        self.access_log = access_log
        super().__init__(address, GraphHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        sys.stderr.write(scrub(f"graph emulator: error serving {client_address}: {exc!r}\n"))


class _GraphEmulatorServer6(GraphEmulatorServer):
    address_family = socket.AF_INET6


def make_server(host: str, port: int, app: EmulatorApp, *, access_log: bool = True) -> GraphEmulatorServer:
    cls = _GraphEmulatorServer6 if ":" in host else GraphEmulatorServer
    return cls((host, port), app, access_log=access_log)


__all__ = [
    "EmulatorApp",
    "GraphEmulatorServer",
    "GraphHandler",
    "PixelEntry",
    "make_server",
    "parse_body",
    "parse_pixels",
    "scrub",
]
