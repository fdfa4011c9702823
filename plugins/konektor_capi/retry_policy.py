"""The one place that decides what to do with a failed Graph API call, and how long to wait.

Meta signals throttling in the JSON body (codes 4, 17, 32, 613, 80000-80014), often with HTTP 400, so
the decision reads the body, not only the HTTP status.
"""

from __future__ import annotations

import enum
import random
import re
from dataclasses import dataclass


class Decision(enum.Enum):
    RETRY = "retry"  # transient: same request again after a backoff
    FAIL_PIXEL = "fail_pixel"  # token, permission or pixel problem: nothing of this pixel can pass
    BISECT = "bisect"  # the batch holds an event Meta rejects: split to find it
    FAIL = "fail"  # give up on this batch


@dataclass(frozen=True)
class MetaError:
    """An error answer (or a transport fault, with code None). Never carries the access token."""

    message: str
    http_status: int | None = None
    code: int | None = None
    subcode: int | None = None
    is_transient: bool = False
    fbtrace_id: str | None = None
    retry_after: float | None = None

    @property
    def reason(self) -> str:
        if self.code is None:
            return f"transport: {self.message}"
        sub = f"/{self.subcode}" if self.subcode is not None else ""
        return f"meta error {self.code}{sub}: {self.message}"


THROTTLING_CODES = frozenset({4, 17, 32, 613})
TOKEN_CODES = frozenset({190})
PERMISSION_CODES = frozenset({10, *range(200, 300)})


def is_throttling(error: MetaError) -> bool:
    return (
        error.http_status == 429
        or error.code in THROTTLING_CODES
        or (error.code is not None and 80000 <= error.code <= 80014)
    )


def decide(error: MetaError) -> Decision:
    if error.code is None:
        # Timeouts, resets and 5xx without a Graph error are transport faults; a bare 4xx (a wrong
        # base URL, say) will not heal by itself.
        transport = error.http_status is None or error.http_status >= 500 or error.http_status == 429
        return Decision.RETRY if transport else Decision.FAIL
    if error.code in TOKEN_CODES or error.code in PERMISSION_CODES:
        return Decision.FAIL_PIXEL
    if error.code == 100 and error.subcode == 33:
        return Decision.FAIL_PIXEL
    if error.code in (1, 2) or error.is_transient or is_throttling(error):
        return Decision.RETRY
    if error.code == 100:
        return Decision.BISECT
    if error.http_status is not None and error.http_status >= 500:
        return Decision.RETRY
    return Decision.FAIL


_REASON = re.compile(r"meta error (\d+)(?:/(\d+))?:")
_BARE_HTTP = re.compile(r"transport: HTTP (\d{3})\b")


def heals_by_waiting(reason: str) -> bool:
    """Whether a `failed` outcome's reason (MetaError.reason) is worth retrying later as it is: a
    transport fault or a transient error is; a refused token, a missing permission, an unknown pixel
    or invalid data is not (it needs a person)."""
    if reason.startswith("transport: "):
        bare = _BARE_HTTP.match(reason)  # an answer without a Graph error: heals only if 5xx or 429
        status = int(bare.group(1)) if bare else None
        return decide(MetaError(message="", http_status=status)) is Decision.RETRY
    match = _REASON.match(reason)
    if match is None:
        return False
    code, subcode = int(match.group(1)), int(match.group(2)) if match.group(2) else None
    return decide(MetaError(message="", code=code, subcode=subcode)) is Decision.RETRY


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter; a server's Retry-After wins when it asks for longer."""

    base: float = 0.5
    cap: float = 30.0
    max_retries: int = 5
    max_retry_after: float = 120.0

    def delay(
        self, retry_number: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        rng = rng or random
        computed = min(self.cap, self.base * 2 ** (retry_number - 1))
        jittered = computed * (0.5 + rng.random() / 2)
        if retry_after is not None and retry_after > 0:
            return max(jittered, min(retry_after, self.max_retry_after))
        return jittered
