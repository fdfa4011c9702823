"""Property-based tests of the event builder: any row Konektor can hold gives a well-formed event."""

from __future__ import annotations

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from konektor_capi.events import build_events
from konektor_capi.mapping import MESSAGING_EVENT_NAMES, EventMapping
from konektor_capi.payloads import event_dicts
from konektor_capi.user_data import build_user_data

pytestmark = pytest.mark.unit

text = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["", " ", "0812-3456-7890", "a@b.co"]))
row = st.fixed_dictionaries(
    {
        "status_change_id": st.integers(1, 10**12),
        "lead_id": st.integers(1, 10**12),
        "to_status": st.sampled_from(["new", "qualified", "won", "resubscribed", "lost", "NEW ", ""]),
        "changed_at": st.datetimes(min_value=pd.Timestamp("2020-01-01").to_pydatetime(),
                                   max_value=pd.Timestamp("2030-01-01").to_pydatetime()),
        "change_event_id": text,
        "workspace_id": st.integers(1, 5),
        "default_country": st.sampled_from(["ID", "MY", "US"]),
        "default_currency": st.sampled_from(["IDR", "USD"]),
        "lead_source_name": text,
        "pixel_id": st.sampled_from(["111", "222"]),
        "email": text, "phone": text, "first_name": text, "last_name": text, "city": text, "state": text,
        "zip_code": text, "country": text, "gender": text, "date_of_birth": st.none(),
        "ctwa_clid": text, "fbclid": text, "fbc": text, "fbp": text, "client_ip": text,
        "client_user_agent": text, "landing_page_url": st.one_of(text, st.just("https://x.id/p")),
        "meta_lead_id": text, "deal_value": st.one_of(st.none(), st.floats(allow_nan=True)),
        "deal_currency": st.one_of(st.none(), st.sampled_from(["IDR", "usd", "X"])),
    }
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=25))
def test_any_rows_build_well_formed_events(rows):
    frame = pd.DataFrame(rows)
    frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True)
    frame["lead_created_at"] = frame["changed_at"]
    frame["agent_phone"] = None
    mapping = EventMapping()
    waba = pd.Series(["900000000000001"] * len(frame), index=frame.index, dtype=object)
    events = build_events(frame, build_user_data(frame), waba, mapping)

    assert len(events) == len(frame)
    assert set(events["action_source"]) <= {"business_messaging", "website", "system_generated"}
    messaging = events[events["action_source"] == "business_messaging"]
    assert set(messaging["event_name"]) <= MESSAGING_EVENT_NAMES
    assert messaging["ctwa_clid"].notna().all()
    known = events["to_status"].isin(list(mapping.crm))
    assert events.loc[known, "event_name"].notna().all()
    assert events.loc[~known, "event_name"].isna().all()
    assert events["event_id"].notna().all() and (events["event_id"].str.len() > 0).all()
    website = events[events["action_source"] == "website"]
    assert website["event_source_url"].str.match(r"(?i)^https?://").all()
    # the same rows always give the same events (stable event ids across reruns)
    again = build_events(frame, build_user_data(frame), waba, mapping)
    assert again["event_id"].tolist() == events["event_id"].tolist()
    # missing values are None, never pd.NA (which no JSON encoder takes)
    assert not any(v is pd.NA for column in events.columns for v in events[column].tolist())
    payload = event_dicts(events[events["event_name"].notna()])
    orjson.dumps(payload)
    for event in payload:
        assert isinstance(event["event_time"], int)
        assert all(v is not None for v in event["user_data"].values())
