"""Keeps access tokens out of whatever text Meta (or a proxy, or an exception) hands back.

Meta's answers can echo the request, and the token travels in it: raw, URL-encoded (query or form
style), or escaped inside a JSON string. Every text that enters our system from the Graph API passes
`scrub` before it is stored, logged, put in XCom or raised. Scrub first and cut afterwards
(`scrub_and_cut`): a cut through a token leaves a fragment no plain replace would find.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
# A cut can leave the token's first characters at the end of a text. Shorter stubs are too likely to
# be ordinary words ("EAAB" starts every Meta token) and reveal too little to matter.
MIN_FRAGMENT = 8


def secret_forms(secret: str) -> list[str]:
    """Every spelling of `secret` that can appear in text built from a request that carried it,
    longest first so a longer form is never half-replaced by a shorter one it contains."""
    if not secret:
        return []
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),  # a path or a URL built by someone else: '/' left as it is
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],  # ASCII-only escaping (\uXXXX), Python's default
        json.dumps(secret, ensure_ascii=False)[1:-1],  # orjson's and most servers' escaping
    }
    return sorted(forms, key=len, reverse=True)


def scrub(text: str | None, secrets: str | Iterable[str | None] | None, mask: str = MASK) -> str | None:
    """`text` without any form of any of `secrets`, and without a token prefix left at its end."""
    if not text or not secrets:
        return text
    if isinstance(secrets, str):
        secrets = (secrets,)
    forms = sorted({f for s in secrets if s for f in secret_forms(s)}, key=len, reverse=True)
    for form in forms:
        if form in text:
            text = text.replace(form, mask)
    return _mask_trailing_fragment(text, forms, mask)


def scrub_and_cut(text: str | None, secrets, limit: int, mask: str = MASK) -> str | None:
    """Scrub, then cut to `limit` characters (the order matters: see the module's docstring)."""
    text = scrub(text, secrets, mask)
    return text[:limit] if text is not None else None


def _mask_trailing_fragment(text: str, forms: list[str], mask: str) -> str:
    longest = 0
    for form in forms:
        for size in range(min(len(form) - 1, len(text)), MIN_FRAGMENT - 1, -1):
            if size <= longest:
                break
            if text.endswith(form[:size]):
                longest = size
                break
    return text[: len(text) - longest] + mask if longest else text
