"""Which Meta event each lead status becomes, per kind of event. Configurable; these are the defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from konektor_capi.config_error import ConfigError

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
# Meta's standard events. A mapped name outside these is almost always a typo ("Purchased"), which Meta
# would take as a custom event that no campaign optimises for: refuse it rather than send it.
STANDARD_EVENT_NAMES = frozenset(
    {
        "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact",
        "CustomizeProduct", "Donate", "FindLocation", "InitiateCheckout", "Lead", "Purchase", "Schedule",
        "Search", "StartTrial", "SubmitApplication", "Subscribe", "ViewContent",
    }
)  # fmt: skip
MAPPING_KEYS = ("event_names", "messaging_event_names")


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
    def from_config(cls, config: Mapping | None) -> EventMapping:
        """Reads overrides such as {"event_names": {...}, "messaging_event_names": {...}} (a connection's
        extra); ConfigError names the first override that is not a status -> allowed event name."""
        config = config or {}
        crm = _overrides(config, "event_names", STANDARD_EVENT_NAMES)
        messaging = _overrides(config, "messaging_event_names", MESSAGING_EVENT_NAMES)
        return cls(crm={**DEFAULT_CRM, **crm}, messaging={**DEFAULT_MESSAGING, **messaging})

    @property
    def statuses(self) -> list[str]:
        """Every status that becomes some event: what the extract step reads."""
        return sorted(set(self.crm) | set(self.messaging))

    @property
    def messaging_statuses(self) -> list[str]:
        return sorted(self.messaging)


def _overrides(config: Mapping, key: str, allowed: frozenset[str]) -> dict[str, str]:
    value = config.get(key)
    if value is None or value == "":
        return {}
    field_name = f"extra.{key}"
    if not isinstance(value, Mapping):
        kind = type(value).__name__
        raise ConfigError(field_name, f"must be an object of lead status -> event name, not a {kind}")
    for status, name in value.items():
        if not isinstance(status, str) or not status.strip():
            raise ConfigError(field_name, f"has an empty lead status ({status!r})")
        if not isinstance(name, str) or name not in allowed:
            kind = "business-messaging event" if allowed is MESSAGING_EVENT_NAMES else "Meta standard event"
            message = f"{_shown(name)} is not a {kind}: one of {', '.join(sorted(allowed))}"
            raise ConfigError(f"{field_name}.{status}", message)
    return dict(value)


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"
