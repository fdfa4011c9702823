"""Meta Conversions API semantics: error shapes, the per-request and per-event checks.

Everything here follows /work/shared/docs/meta-capi-contract.md. Where Meta does not document a
code or subcode, the emulator picks one; those picks are marked "emulator choice" below and listed
in README.md.

The per-event checker is on the hot path (up to 1000 events per request, 150k+ events/s), so it
uses plain dict access, `type(x) is ...` checks, frozensets and a precompiled regex, and returns
preallocated `MetaError` constants instead of building objects per event.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

# --------------------------------------------------------------------------------------------------
# Responses and Meta-shaped errors
# --------------------------------------------------------------------------------------------------


def new_trace_id() -> str:
    """A random fbtrace_id (Meta's are ~11-27 url-safe characters)."""
    return secrets.token_urlsafe(12)


@dataclass(slots=True)
class Response:
    """What the server writes: JSON `payload` (serialised by the server) or raw `body` bytes."""

    status: int
    payload: dict[str, Any] | None = None
    body: bytes | None = None
    content_type: str = "application/json; charset=UTF-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


@dataclass(frozen=True, slots=True)
class MetaError:
    """One Graph API error: `{"error": {...}}` with HTTP `status`.

    `subcode=None` means the `error_subcode` key is omitted, as Meta does for errors without one.
    """

    code: int
    subcode: int | None
    message: str
    title: str = ""
    user_msg: str = ""
    transient: bool = False
    status: int = 400
    type: str = "OAuthException"

    @property
    def key(self) -> str:
        """Counter key for stats: "100/2804003", or "190" when there is no subcode."""
        return f"{self.code}/{self.subcode}" if self.subcode is not None else str(self.code)

    def payload(self, trace_id: str | None = None) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        err["is_transient"] = self.transient
        err["error_user_title"] = self.title
        err["error_user_msg"] = self.user_msg
        err["fbtrace_id"] = trace_id or new_trace_id()
        return {"error": err}

    def response(self, headers: list[tuple[str, str]] | None = None) -> Response:
        trace = new_trace_id()
        return Response(
            self.status, self.payload(trace), headers=[("x-fb-trace-id", trace), *(headers or [])]
        )


def _invalid(subcode: int | None, title: str, user_msg: str) -> MetaError:
    """A code-100 "invalid parameter" error whose message names the rule (never the event)."""
    message = f"Invalid parameter: {title}" if title else "Invalid parameter"
    return MetaError(100, subcode, message, title, user_msg)


# --- request-level errors (token, object, data array) ---------------------------------------------

TOKEN_MISSING = MetaError(
    190,
    None,
    "An access token is required to request this resource.",
    "Access token missing",
    "Send access_token in the body, an Authorization header or the query.",
)
TOKEN_INVALID = MetaError(
    190,
    None,
    "Invalid OAuth access token - Cannot parse access token",
    "Invalid access token",
    "The access token could not be decrypted.",
)
TOKEN_EXPIRED = MetaError(
    190,
    463,
    "Error validating access token: Session has expired.",
    "Access token expired",
    "The access token has expired. Generate a new system user token.",
)
TOKEN_INVALIDATED = MetaError(
    190,
    460,
    "Error validating access token: The session has been invalidated.",
    "Access token invalidated",
    "The session was invalidated (password change or security reason).",
)
PERMISSION_ERROR = MetaError(
    200,
    None,
    "(#200) Permissions error",
    "Permissions error",
    "The access token does not have permission to send events for this dataset.",
)


def unknown_object(object_id: str, verb: str = "post") -> MetaError:
    return MetaError(
        100,
        33,
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        f"Unsupported {verb} request",
        "The pixel/dataset does not exist or the token cannot access it.",
    )


def nonexisting_field(field_name: str) -> MetaError:
    """`GET /{pixel}?fields=...` naming a field a pixel does not have (the emulator knows id, name)."""
    return MetaError(
        100,
        None,
        f"(#100) Tried accessing nonexisting field ({field_name}) on node type (AdsPixel)",
        "Nonexisting field",
        "",
    )


def unknown_path(path: str) -> MetaError:
    return MetaError(2500, None, f"Unknown path components: {path}", "Unknown path", "")


DATA_REQUIRED = MetaError(100, None, "(#100) The parameter data is required", "Missing data", "")
DATA_NOT_ARRAY = MetaError(100, None, "(#100) param data must be an array.", "Invalid data", "")
BODY_UNPARSEABLE = MetaError(
    100,
    None,
    "Invalid parameter: the request body could not be parsed",
    "Invalid body",
    "Send JSON (application/json) or form fields where data is a JSON string.",
)


def data_too_long(limit: int) -> MetaError:
    return MetaError(
        100,
        None,
        f"Invalid parameter: data array too long, max {limit}",
        "Too many events",
        f"A request may carry at most {limit} events.",
    )


# --- per-event errors ------------------------------------------------------------------------------
# Documented/seen by Meta: 2804003, 2804009, 2804066. Everything else in the 28040xx/28049xx range is
# an emulator choice (Meta's real subcode is unknown) and is listed in README.md.

EVENT_NOT_OBJECT = _invalid(2804900, "Invalid Event", "Each element of data must be an object.")
MISSING_EVENT_NAME = _invalid(2804901, "Missing Event Name", "event_name is required and must be a string.")
INVALID_EVENT_TIME = _invalid(
    2804902, "Invalid Event Time", "event_time is required and must be an integer Unix time in seconds."
)
INVALID_ACTION_SOURCE = _invalid(
    2804903, "Invalid Action Source", "action_source is required and must be one of the allowed values."
)
INVALID_EVENT_SOURCE_URL = _invalid(
    2804904,
    "Missing Event Source URL",
    "event_source_url is required for website events and must start with http:// or https://.",
)
MISSING_CLIENT_USER_AGENT = _invalid(
    2804905, "Missing Client User Agent", "client_user_agent is required for website events."
)
MISSING_USER_DATA = _invalid(2804906, "Missing User Data", "user_data is required and must be an object.")
INSUFFICIENT_CUSTOMER_INFO = _invalid(
    2804907,
    "Insufficient Customer Information",
    "The customer information parameters of this event are too weak to match (see the valid "
    "combinations of customer information parameters).",
)
INVALID_MESSAGING_CHANNEL = _invalid(
    2804908, "Invalid Messaging Channel", "business_messaging events need messaging_channel 'whatsapp'."
)
MISSING_CTWA_CLID = _invalid(
    2804909, "Missing Click ID", "business_messaging events need user_data.ctwa_clid."
)
INVALID_CUSTOM_DATA = _invalid(2804910, "Invalid Custom Data", "custom_data must be an object.")
INVALID_EVENT_ID = _invalid(2804911, "Invalid Event ID", "event_id must be a string.")
EVENT_TOO_OLD = _invalid(
    2804003,
    "Event Timestamp Too Old",
    "The timestamp for this event is too far in the past. Events need to be sent within 7 days "
    "(62 days for physical_store) of when they occurred.",
)
EVENT_IN_FUTURE = _invalid(
    2804004,
    "Event Timestamp In The Future",
    "The timestamp for this event is in the future. Send event_time in Unix seconds (UTC).",
)
UNHASHED_USER_DATA = _invalid(
    2804019,
    "Unhashed Customer Information",
    "Contact information (em, ph, fn, ln, ge, db, ct, st, zp, country, external_id) must be "
    "SHA-256 hashed: 64 lowercase hexadecimal characters.",
)
MISSING_PURCHASE_VALUE = _invalid(
    2804009,
    "Missing Value for Purchase Event",
    "Purchase events need custom_data.value (a number) and custom_data.currency (ISO 4217, 3 letters).",
)
MESSAGING_INVALID_EVENT_TYPE = _invalid(
    2804066,
    "Messaging Event Invalid Event Type",
    "business_messaging events accept only LeadSubmitted, Purchase, InitiateCheckout, AddToCart "
    "and ViewContent.",
)
INVALID_CURRENCY = _invalid(
    2804912,
    "Invalid Currency Code",
    "custom_data.currency must be an ISO 4217 currency code (e.g. USD, IDR).",
)
EMULATOR_REJECT = MetaError(
    100,
    None,
    "Invalid parameter",
    "Invalid parameter",
    "Rejected by the emulator (custom_data.emulator_reject is true).",
)

DEFAULT_WABA_SUBCODE = 2804050
WABA_TITLE = "Missing Page ID Or WhatsApp Business account ID"


def missing_waba(subcode: int) -> MetaError:
    return _invalid(
        subcode,
        WABA_TITLE,
        "business_messaging events need user_data.whatsapp_business_account_id (WhatsApp) or "
        "user_data.page_id (Messenger).",
    )


# --------------------------------------------------------------------------------------------------
# Configuration and the checks
# --------------------------------------------------------------------------------------------------

ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
BUSINESS_MESSAGING_EVENTS = frozenset(
    {"LeadSubmitted", "Purchase", "InitiateCheckout", "AddToCart", "ViewContent"}
)
HASHED_FIELDS = frozenset({"em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id"})
WEAK_IDENTITY_SETS = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)
_WEAK_UNION = frozenset().union(*WEAK_IDENTITY_SETS)
_is_sha256_hex = re.compile(r"[0-9a-f]{64}").fullmatch
_URL_PREFIXES = ("http://", "https://")


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Knobs of the checks; changeable at start (CLI) and at runtime (POST /_emulator/config)."""

    max_events: int = 1000
    max_age_seconds: int = 7 * 86400
    physical_store_max_age_seconds: int = 62 * 86400
    future_skew_seconds: int = 60
    waba_subcode: int = DEFAULT_WABA_SUBCODE
    clock_offset_seconds: int = 0  # added to the emulator's clock (simulate skew / ageing)
    # Meta's round trip: each events POST is answered after this many ms plus up to jitter ms more.
    round_trip_ms: int = 0
    round_trip_jitter_ms: int = 0

    def updated(self, changes: dict[str, Any]) -> RuleConfig:
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        for key, value in changes.items():
            if type(value) is not int:
                raise ValueError(f"config {key} must be an integer")
            if key.startswith("round_trip") and value < 0:
                raise ValueError(f"config {key} must be >= 0")
        return replace(self, **changes)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


BatchChecker = Callable[[list, int], "MetaError | None"]


@cache
def iso_4217_currencies() -> frozenset[str]:
    """ISO 4217 codes of money (pycountry's list, less metals, bond units, XDR/XSU/XUA, XTS and XXX):
    an unknown code rejects the whole batch, as seen at Meta by peers."""
    import pycountry

    not_money = {"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX"}
    return frozenset(c.alpha_3 for c in pycountry.currencies) - not_money


def make_batch_checker(cfg: RuleConfig) -> BatchChecker:
    """Build `check(data, now) -> MetaError | None` for one config.

    Meta rejects the whole batch if any event is invalid; the error names the rule, not the event.
    The first invalid event (in order) decides which rule is reported.
    """
    max_age = cfg.max_age_seconds
    store_max_age = cfg.physical_store_max_age_seconds
    skew = cfg.future_skew_seconds
    waba_error = missing_waba(cfg.waba_subcode)
    action_sources = ACTION_SOURCES
    bm_events = BUSINESS_MESSAGING_EVENTS
    hashed = HASHED_FIELDS
    weak_union = _WEAK_UNION
    weak_sets = WEAK_IDENTITY_SETS
    is_hex = _is_sha256_hex
    url_prefixes = _URL_PREFIXES
    currencies = iso_4217_currencies()
    _str, _int, _dict, _list, _float = str, int, dict, list, float

    def check_event(ev: Any, now: int) -> MetaError | None:
        """The reference check of one event: the first rule it breaks, or None."""
        if type(ev) is not _dict:
            return EVENT_NOT_OBJECT
        name = ev.get("event_name")
        if type(name) is not _str or not name:
            return MISSING_EVENT_NAME
        t = ev.get("event_time")
        if type(t) is not _int:
            return INVALID_EVENT_TIME
        src = ev.get("action_source")
        if type(src) is not _str or src not in action_sources:
            return INVALID_ACTION_SOURCE
        if t < now - (store_max_age if src == "physical_store" else max_age):
            return EVENT_TOO_OLD
        if t > now + skew:
            return EVENT_IN_FUTURE
        eid = ev.get("event_id")
        if eid is not None and type(eid) is not _str and type(eid) is not _int:
            return INVALID_EVENT_ID
        ud = ev.get("user_data")
        if type(ud) is not _dict:
            return MISSING_USER_DATA
        if src == "website":
            url = ev.get("event_source_url")
            if type(url) is not _str or not url.startswith(url_prefixes):
                return INVALID_EVENT_SOURCE_URL
            ua = ud.get("client_user_agent")
            if type(ua) is not _str or not ua:
                return MISSING_CLIENT_USER_AGENT
        has_empty = False
        for key, value in ud.items():
            if not value:
                has_empty = True  # empty values count as absent
            elif key in hashed:
                if type(value) is _str:
                    if not is_hex(value):
                        return UNHASHED_USER_DATA
                elif type(value) is _list:
                    for item in value:
                        if type(item) is not _str or not is_hex(item):
                            return UNHASHED_USER_DATA
                else:
                    return UNHASHED_USER_DATA
        # weak identity: the non-empty customer info keys must not fit inside one weak set
        if has_empty or ud.keys() <= weak_union:
            present = {key for key, value in ud.items() if value}
            if not present:
                return INSUFFICIENT_CUSTOMER_INFO
            for weak in weak_sets:
                if present <= weak:
                    return INSUFFICIENT_CUSTOMER_INFO
        cd = ev.get("custom_data")
        if cd is not None:
            if type(cd) is not _dict:
                return INVALID_CUSTOM_DATA
            if cd.get("emulator_reject") is True:
                return EMULATOR_REJECT
        if name == "Purchase":
            if not cd:
                return MISSING_PURCHASE_VALUE
            value = cd.get("value")
            if type(value) is not _int and type(value) is not _float:
                return MISSING_PURCHASE_VALUE
            cur = cd.get("currency")
            if type(cur) is not _str or len(cur) != 3 or not cur.isascii() or not cur.isalpha():
                return MISSING_PURCHASE_VALUE
            if cur.upper() not in currencies:
                return INVALID_CURRENCY
        if src == "business_messaging":
            if ev.get("messaging_channel") != "whatsapp":
                return INVALID_MESSAGING_CHANNEL
            if name not in bm_events:
                return MESSAGING_INVALID_EVENT_TYPE
            if not ud.get("whatsapp_business_account_id"):
                return waba_error
            if not ud.get("ctwa_clid"):
                return MISSING_CTWA_CLID
        return None

    def batch_valid(data: list, now: int) -> bool:
        """Fast path: True when every event passes. Same rules as `check_event`, inlined, with the
        hashed values collected and verified in one bulk check. False means "not sure": the
        caller then runs the exact pass. (Equivalence is tested in
        tests/devtools/graph_emulator/test_rules.py.)"""
        hashed_values: list = []
        add = hashed_values.append
        add_all = hashed_values.extend
        oldest = now - max_age
        oldest_store = now - store_max_age
        newest = now + skew
        for ev in data:
            if type(ev) is not _dict:
                return False
            name = ev.get("event_name")
            t = ev.get("event_time")
            src = ev.get("action_source")
            ud = ev.get("user_data")
            if (
                type(name) is not _str
                or not name
                or type(t) is not _int
                or type(src) is not _str
                or type(ud) is not _dict
                or src not in action_sources
                or t > newest
            ):
                return False
            if t < oldest and (src != "physical_store" or t < oldest_store):
                return False
            eid = ev.get("event_id")
            if eid is not None and type(eid) is not _str and type(eid) is not _int:
                return False
            if src == "website":
                url = ev.get("event_source_url")
                ua = ud.get("client_user_agent")
                if (
                    type(url) is not _str
                    or not url.startswith(url_prefixes)
                    or type(ua) is not _str
                    or not ua
                ):
                    return False
            has_empty = False
            for key, value in ud.items():
                if not value:
                    has_empty = True
                elif key in hashed:
                    if type(value) is _str:
                        add(value)
                    elif type(value) is _list:
                        add_all(value)
                    else:
                        return False
            if has_empty or ud.keys() <= weak_union:
                present = {key for key, value in ud.items() if value}
                if not present:
                    return False
                for weak in weak_sets:
                    if present <= weak:
                        return False
            cd = ev.get("custom_data")
            if cd is not None and (type(cd) is not _dict or cd.get("emulator_reject") is True):
                return False
            if name == "Purchase":
                if not cd:
                    return False
                value = cd.get("value")
                cur = cd.get("currency")
                if (
                    (type(value) is not _int and type(value) is not _float)
                    or type(cur) is not _str
                    or cur.upper() not in currencies
                ):
                    return False
            if src == "business_messaging" and (
                ev.get("messaging_channel") != "whatsapp"
                or name not in bm_events
                or not ud.get("whatsapp_business_account_id")
                or not ud.get("ctwa_clid")
            ):
                return False
        return hashes_ok(hashed_values)

    def check_batch(data: list, now: int) -> MetaError | None:
        if batch_valid(data, now):
            return None
        # Something is wrong: exact pass, in order, so the first invalid event names the rule.
        for ev in data:
            err = check_event(ev, now)
            if err is not None:
                return err
        return None

    check_batch.check_event = check_event  # type: ignore[attr-defined]  # for tests
    check_batch.batch_valid = batch_valid  # type: ignore[attr-defined]
    return check_batch


_HEX_BYTES = b"0123456789abcdef"


def hashes_ok(values: list) -> bool:
    """True if every value is a 64-character lowercase hex string (bulk, C-speed: ~50 ns/value)."""
    if not values:
        return True
    try:
        return set(map(len, values)) == {64} and not "".join(values).encode("ascii").translate(
            None, _HEX_BYTES
        )
    except (TypeError, UnicodeEncodeError):
        return False
