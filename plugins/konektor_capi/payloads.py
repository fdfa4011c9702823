"""The JSON Meta receives: one object per event, joined into one POST body per batch.

An event's JSON does not depend on the pixel it goes to (except a Click-to-WhatsApp event's WABA), so
the pipeline encodes each change's event once (`event_json`) and a batch's body is those pieces
joined (`batch_body`): the same bytes as encoding the whole body at once.
"""

from __future__ import annotations

import math

import orjson
import pandas as pd

from konektor_capi.events import USER_DATA_COLUMNS


def _column(frame: pd.DataFrame, name: str) -> list:
    return frame[name].tolist()


def _missing(value: object) -> bool:
    # pandas 3 string operations leave pd.NA where events.py means None.
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def event_dicts(batch: pd.DataFrame) -> list[dict]:
    """Meta's event objects for these rows; missing values are left out, not sent as null."""
    names = _column(batch, "event_name")
    times = _column(batch, "event_time")
    ids = _column(batch, "event_id")
    sources = _column(batch, "action_source")
    urls = _column(batch, "event_source_url")
    values = _column(batch, "value")
    currencies = _column(batch, "currency")
    clids = _column(batch, "ctwa_clid")
    wabas = _column(batch, "waba_id")
    crm_names = _column(batch, "lead_event_source")
    user_columns = [(f, _column(batch, c)) for f, c in USER_DATA_COLUMNS.items()]

    out = []
    for i in range(len(names)):
        source = sources[i]
        user = {}
        if source == "business_messaging":
            for field, v in (("whatsapp_business_account_id", wabas[i]), ("ctwa_clid", clids[i])):
                if not _missing(v):
                    user[field] = v
        else:
            for field, column in user_columns:
                v = column[i]
                if v is not None:
                    user[field] = v
        event = {
            "event_name": names[i],
            "event_time": int(times[i]),
            "event_id": ids[i],
            "action_source": source,
            "user_data": user,
        }
        if source == "business_messaging":
            event["messaging_channel"] = "whatsapp"
        elif source == "website" and not _missing(urls[i]):
            event["event_source_url"] = urls[i]
        custom = {}
        value = values[i]
        if not _missing(value):
            custom["value"] = float(value)
            if not _missing(currencies[i]):
                custom["currency"] = currencies[i]
        if source == "system_generated":
            custom["event_source"] = "crm"
            if not _missing(crm_names[i]):
                custom["lead_event_source"] = crm_names[i]
        if custom:
            event["custom_data"] = custom
        out.append(event)
    return out


def request_body(events: list[dict], access_token: str, test_event_code: str | None) -> bytes:
    """The POST body. The token travels here, never in the URL, so it stays out of proxy logs."""
    body = {"data": events, "access_token": access_token}
    if test_event_code:
        body["test_event_code"] = test_event_code
    return orjson.dumps(body)


EVENT_JSON = "_event_json"


def event_json(events: pd.DataFrame) -> list[bytes]:
    """Each row's event object, encoded."""
    # orjson hands back its 4 KiB working buffer; copied to the exact size, a page's events take a
    # fraction of the memory (docs/performance.md).
    return [bytes(memoryview(orjson.dumps(event))) for event in event_dicts(events)]


def batch_body(batch: pd.DataFrame, access_token: str, test_event_code: str | None) -> bytes:
    """The POST body for these rows: from their encoded events (EVENT_JSON) where the frame has them."""
    if EVENT_JSON not in batch:
        return request_body(event_dicts(batch), access_token, test_event_code)
    tail = b'],"access_token":' + orjson.dumps(access_token)
    if test_event_code:
        tail += b',"test_event_code":' + orjson.dumps(test_event_code)
    return b'{"data":[' + b",".join(batch[EVENT_JSON].tolist()) + tail + b"}"
