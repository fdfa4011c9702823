import pytest

from konektor_capi.mapping import EventMapping

pytestmark = pytest.mark.unit


def test_default_mapping_matches_the_product_table():
    mapping = EventMapping()
    assert mapping.crm == {"new": "Lead", "qualified": "InitiateCheckout", "won": "Purchase",
                           "resubscribed": "Subscribe"}  # fmt: skip
    assert mapping.messaging == {"new": "LeadSubmitted", "qualified": "InitiateCheckout", "won": "Purchase"}
    assert mapping.statuses == ["new", "qualified", "resubscribed", "won"]
    assert mapping.messaging_statuses == ["new", "qualified", "won"]


def test_overrides_merge_with_defaults():
    mapping = EventMapping.from_config({"event_names": {"won": "CompleteRegistration", "demo": "Schedule"}})
    assert mapping.crm["won"] == "CompleteRegistration"
    assert mapping.crm["new"] == "Lead"
    assert "demo" in mapping.statuses


def test_messaging_mapping_rejects_names_meta_refuses_for_business_messaging():
    with pytest.raises(ValueError, match="'Subscribe' is not a business-messaging event"):
        EventMapping.from_config({"messaging_event_names": {"resubscribed": "Subscribe"}})
