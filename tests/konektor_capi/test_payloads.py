"""The request body: the same bytes as before for every batch validation lets through, never a null
for a missing value, and valid JSON whatever text the CRM holds."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from konektor_capi.events import USER_DATA_COLUMNS
from konektor_capi.payloads import EVENT_JSON, batch_body, event_dicts, event_json, request_body

pytestmark = pytest.mark.unit

SOURCES = ("system_generated", "website", "business_messaging")
HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
# Any unicode a CRM or a browser can send; lone surrogates are excluded, orjson refuses them anyway.
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


def original_event_dicts(batch: pd.DataFrame) -> list[dict]:
    """payloads.event_dicts as it was before batch_body, kept verbatim as the oracle."""
    col = {c: batch[c].tolist() for c in batch.columns}
    user_columns = [(f, col[c]) for f, c in USER_DATA_COLUMNS.items()]
    out = []
    for i in range(len(batch)):
        source = col["action_source"][i]
        if source == "business_messaging":
            user = {"whatsapp_business_account_id": col["waba_id"][i], "ctwa_clid": col["ctwa_clid"][i]}
        else:
            user = {}
            for field, column in user_columns:
                if column[i] is not None:
                    user[field] = column[i]
        event = {
            "event_name": col["event_name"][i],
            "event_time": int(col["event_time"][i]),
            "event_id": col["event_id"][i],
            "action_source": source,
            "user_data": user,
        }
        if source == "business_messaging":
            event["messaging_channel"] = "whatsapp"
        elif source == "website":
            event["event_source_url"] = col["event_source_url"][i]
        custom = {}
        value = col["value"][i]
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            custom["value"] = float(value)
            custom["currency"] = col["currency"][i]
        if source == "system_generated":
            custom["event_source"] = "crm"
            if col["lead_event_source"][i] is not None:
                custom["lead_event_source"] = col["lead_event_source"][i]
        if custom:
            event["custom_data"] = custom
        out.append(event)
    return out


@st.composite
def event_rows(draw, validated: bool):
    """One events-frame row as build_events makes it; `validated` keeps what validation guarantees
    (messaging rows have WABA and click id, website rows a URL, valued rows a currency)."""
    source = draw(st.sampled_from(SOURCES))
    maybe = (lambda s: s) if validated else (lambda s: st.one_of(st.none(), s))
    messaging = source == "business_messaging"
    row = {
        "event_name": draw(st.sampled_from(["Lead", "Purchase", "Subscribe", "LeadSubmitted"])),
        "event_time": draw(st.integers(1_500_000_000, 2_000_000_000)),
        "event_id": draw(st.one_of(ANY_TEXT, st.just("konektor-lsc-1"))),
        "action_source": source,
        "event_source_url": draw(maybe(ANY_TEXT)) if source == "website" else None,
        "value": draw(st.one_of(st.just(math.nan), st.floats(0, 1e18, allow_nan=False))),
        "currency": None,
        "ctwa_clid": draw(maybe(ANY_TEXT)) if messaging else None,
        "waba_id": draw(maybe(st.just("900000000000001"))) if messaging else None,
        "lead_event_source": draw(st.one_of(st.none(), ANY_TEXT)) if source == "system_generated" else None,
    }
    if not math.isnan(row["value"]):
        row["currency"] = draw(maybe(st.sampled_from(["IDR", "USD"])))
    for field, column in USER_DATA_COLUMNS.items():
        plain = field in ("fbc", "fbp", "client_ip_address", "client_user_agent", "lead_id")
        row[column] = None if messaging else draw(st.one_of(st.none(), ANY_TEXT if plain else HEX))
    return row


def frame(rows: list[dict]) -> pd.DataFrame:
    """Text columns as object arrays of str or None, as build_events leaves them (not pandas' str dtype)."""
    events = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in rows[0]})
    events["event_time"] = events["event_time"].astype("int64")
    events["value"] = events["value"].astype("float64")
    return events


def crm_row(**fields) -> dict:
    row = dict.fromkeys(["event_source_url", "currency", "ctwa_clid", "waba_id", "lead_event_source"])
    row |= dict.fromkeys(USER_DATA_COLUMNS.values())
    row |= {"event_name": "Lead", "event_time": 1_700_000_000, "event_id": "e1",
            "action_source": "system_generated", "value": math.nan, "em": "a" * 64}  # fmt: skip
    return row | fields


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_rows(validated=True), min_size=1, max_size=40))
def test_validated_batches_give_the_same_bytes_as_before(rows):
    batch = frame(rows)
    before = orjson.dumps({"data": original_event_dicts(batch), "access_token": "tok"})
    assert batch_body(batch, "tok", None) == before
    assert request_body(event_dicts(batch), "tok", None) == before
    # from events encoded one by one beforehand (what the pipeline does): the same bytes
    pieces = batch.assign(**{EVENT_JSON: event_json(batch)})
    assert batch_body(pieces, "tok", None) == before
    with_code = orjson.dumps(
        {"data": original_event_dicts(batch), "access_token": "tok", "test_event_code": "T1"}
    )
    assert batch_body(pieces, "tok", "T1") == with_code


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_rows(validated=False), min_size=1, max_size=40), st.one_of(st.none(), st.just("TEST9")))
def test_missing_values_are_left_out_never_null(rows, test_code):
    batch = frame(rows)
    body = orjson.loads(batch_body(batch, "tok", test_code))

    assert body["access_token"] == "tok"
    assert body.get("test_event_code") == test_code
    assert len(body["data"]) == len(rows)
    for event, row in zip(body["data"], rows, strict=True):
        nested = [event["user_data"], event.get("custom_data", {})]
        assert all(v is not None for part in nested for v in part.values())
        assert event.get("event_source_url") is None or event["event_source_url"] == row["event_source_url"]
        assert ("custom_data" in event) == (
            row["action_source"] == "system_generated" or row["value"] == row["value"]
        )
        if row["action_source"] == "business_messaging":
            assert set(event["user_data"]) <= {"whatsapp_business_account_id", "ctwa_clid"}
            assert event["messaging_channel"] == "whatsapp"
        # text survives the round trip exactly, quotes, backslashes and control characters included
        for field, column in USER_DATA_COLUMNS.items():
            if row[column] is not None and row["action_source"] != "business_messaging":
                assert event["user_data"][field] == row[column]


def test_pandas_na_is_left_out_instead_of_breaking_the_batch():
    # pandas 3 string methods give pd.NA, not None, for a workspace without a lead source name.
    batch = frame([crm_row(), crm_row(), crm_row()])
    batch["lead_event_source"] = pd.array(["Konektor", pd.NA, None], dtype="object")
    batch["currency"] = pd.Series([pd.NA, pd.NA, pd.NA], dtype="string").astype(object)

    custom = [e["custom_data"] for e in orjson.loads(batch_body(batch, "tok", None))["data"]]

    assert custom[0]["lead_event_source"] == "Konektor"
    assert "lead_event_source" not in custom[1] and "lead_event_source" not in custom[2]
    assert all("currency" not in c for c in custom)


def test_numpy_times_and_an_empty_batch():
    batch = frame([crm_row()])
    batch["event_time"] = np.array([1_700_000_000], dtype=np.int64)
    assert orjson.loads(batch_body(batch, "tok", None))["data"][0]["event_time"] == 1_700_000_000
    assert batch_body(batch.iloc[:0], "tok", "") == b'{"data":[],"access_token":"tok"}'
