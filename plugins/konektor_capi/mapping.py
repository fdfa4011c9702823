"""Which Meta event each lead status becomes, per kind of event. Configurable; these are the defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

# Meta accepts only a few names for business-messaging events (contract doc): `Lead` and `Subscribe`
# would be rejected there, so `new` becomes `LeadSubmitted` and `resubscribed` goes out as a CRM event.
DEFAULT_CRM = MappingProxyType(
    {"new": "Lead", "qualified": "InitiateCheckout", "won": "Purchase", "resubscribed": "Subscribe"}
)
DEFAULT_MESSAGING = MappingProxyType(
    {"new": "LeadSubmitted", "qualified": "InitiateCheckout", "won": "Purchase"}
)
MESSAGING_EVENT_NAMES = frozenset(
    {"LeadSubmitted", "Purchase", "InitiateCheckout", "AddToCart", "ViewContent"}
)


@dataclass(frozen=True)
class EventMapping:
    crm: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CRM))
    messaging: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MESSAGING))

    def __post_init__(self) -> None:
        bad = {s: n for s, n in self.messaging.items() if n not in MESSAGING_EVENT_NAMES}
        if bad:
            raise ValueError(
                f"business-messaging events must be one of {sorted(MESSAGING_EVENT_NAMES)}; got {bad}"
            )

    @classmethod
    def from_config(cls, config: dict | None) -> EventMapping:
        """Reads overrides such as {"event_names": {...}, "messaging_event_names": {...}}."""
        config = config or {}
        crm = {**DEFAULT_CRM, **(config.get("event_names") or {})}
        messaging = {**DEFAULT_MESSAGING, **(config.get("messaging_event_names") or {})}
        return cls(crm=crm, messaging=messaging)

    @property
    def statuses(self) -> list[str]:
        """Every status that becomes some event: what the extract step reads."""
        return sorted(set(self.crm) | set(self.messaging))

    @property
    def messaging_statuses(self) -> list[str]:
        return sorted(self.messaging)
