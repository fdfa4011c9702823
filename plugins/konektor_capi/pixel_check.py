"""Token check ("Test Connection" in Konektor's settings): can this token read this pixel?

One `GET /{version}/{pixel_id}?fields=id,name` with the token in an `Authorization: Bearer` header
(never in the URL), with the client's timeouts and no retries: the answer is for a person waiting.
Meta's error is explained through the retry policy's classes; no message ever contains the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import requests

from konektor_capi.graph_client import GraphApiClient, _parse
from konektor_capi.retry_policy import PERMISSION_CODES, TOKEN_CODES, Decision, MetaError, decide
from konektor_capi.scrub import scrub

NO_TOKEN = "no access token configured"
TOKEN_INVALID = "access token invalid or expired"
PERMISSION_MISSING = "permission missing: the token's system user has no access to this pixel"
PIXEL_NOT_FOUND = "pixel not found or not accessible with this token"
UNREACHABLE = "Graph API unreachable"
TOKEN_UNSENDABLE = "the token holds characters an HTTP header cannot carry"


@dataclass(frozen=True)
class PixelCheck:
    ok: bool
    message: str  # the pixel's name when ok, else why not; never the token


def check_pixel(client: GraphApiClient, pixel_id: str, access_token: str | None) -> PixelCheck:
    """Reads the pixel's id and name with `access_token`; ok when Meta answers with the pixel."""
    if not access_token or not access_token.strip():
        return PixelCheck(False, NO_TOKEN)
    token = access_token.strip()
    if not _header_safe(token):
        # requests refuses it with an error quoting the header (token and all) or dies encoding it
        return PixelCheck(False, TOKEN_UNSENDABLE)
    config = client.config
    url = f"{config.base_url}/{config.api_version}/{quote(str(pixel_id), safe='')}"
    try:
        response = client._session.get(
            url,
            params={"fields": "id,name"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=(config.connect_timeout, config.read_timeout),
        )
    except requests.RequestException as exc:
        return PixelCheck(False, _redact(f"{UNREACHABLE}: {type(exc).__name__}: {str(exc)[:200]}", token))
    result = _parse(response, token)
    if result.error is not None:
        return PixelCheck(False, _redact(explain(result.error), token))
    body = _json_object(response)
    if body is None or str(body.get("id")) != str(pixel_id):
        return PixelCheck(False, f"unexpected answer from the Graph API (HTTP {response.status_code})")
    return PixelCheck(True, _redact(str(body.get("name") or f"pixel {pixel_id}"), token))


def check_base_url(client: GraphApiClient) -> PixelCheck:
    """Does the configured base URL answer like the Graph API? One tokenless GET of `/{version}/me`:
    the Graph API answers with its JSON error shape (no token), anything else is the wrong host."""
    config = client.config
    url = f"{config.base_url}/{config.api_version}/me"
    try:
        response = client._session.get(
            url, headers={"Accept": "application/json"}, timeout=(config.connect_timeout, config.read_timeout)
        )
    except requests.RequestException as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        return PixelCheck(False, f"{UNREACHABLE} at {config.base_url}: {reason}")
    error = _parse(response).error
    graph_shaped = error.code is not None if error is not None else _json_object(response) is not None
    if graph_shaped:  # the Graph API's JSON, here most likely its "token required" error
        return PixelCheck(True, f"Graph API {config.api_version} answers at {config.base_url}")
    if error is not None and decide(error) is Decision.RETRY:
        return PixelCheck(False, f"{UNREACHABLE} at {config.base_url}: HTTP {response.status_code}")
    return PixelCheck(
        False,
        f"{config.base_url} answered HTTP {response.status_code}, not like the Graph API: check the base URL",
    )


def explain(error: MetaError) -> str:
    """A person's reason for a failed check, classed by the retry policy."""
    detail = f" ({error.reason})"
    if error.code is None:
        if decide(error) is Decision.RETRY:  # timeouts, resets, 5xx, 429
            status = f"HTTP {error.http_status}" if error.http_status is not None else error.message
            return f"{UNREACHABLE}: {status}"
        return f"unexpected answer from the Graph API: HTTP {error.http_status}; check base URL and version"
    if error.code in TOKEN_CODES:
        return TOKEN_INVALID + detail
    if error.code in PERMISSION_CODES:
        return PERMISSION_MISSING + detail
    if error.code == 100 and error.subcode == 33:
        return PIXEL_NOT_FOUND + detail
    if decide(error) is Decision.RETRY:
        return f"Graph API busy or failing, try again later{detail}"
    return f"Graph API error{detail}"


def _header_safe(token: str) -> bool:
    # Printable ASCII only: a line break would end the header, and anything past ASCII is not a token.
    return all(" " <= ch <= "~" for ch in token)


def _redact(text: str, token: str) -> str:
    return scrub(text, token, mask="[redacted]")


def _json_object(response: requests.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
