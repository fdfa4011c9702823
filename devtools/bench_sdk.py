"""The benchmark's baseline: the same events sent with Meta's official Python SDK (facebook-business).

What the baseline does, per extracted (change, pixel) row that our pipeline sent (accepted):
UserData / CustomData / Event objects from the RAW lead values, the SDK's own normaliser and hashing
(`EventRequest.execute()` -> `Event.normalize()` -> `UserData.normalize()` -> `Normalize`), the SDK's
JSON (`json.dumps` per event), 1000 events per request per (pixel, WABA), POSTed to the emulator.

What it is given for free (not timed), because the SDK has no equivalent: the rows (the extract, the
same `iter_changes` query as ours) and our decisions per row: event name, action_source, event_id and
the resolved WhatsApp Business Account. What it does not do: validation, recording outcomes, and the
rows our pipeline skips (those are not sent to it at all).

Where the SDK needs help to send what Meta accepts (all counted in its time):
* `Normalize` raises on an invalid email, phone or country, and one raise would lose the whole event:
  those three fields go through `Normalize.normalize_field` one by one in try/except first (a bad one
  is dropped; a bad country falls back to the workspace's), and UserData gets the hash, which the SDK
  passes through after its is-already-hashed check.
* The SDK does not hash external_id (it only dedups it): the app hashes the lead id itself.
* The SDK's normaliser adds no country calling code to local numbers ("0812..." becomes "812...",
  which matches nobody): fine for a speed baseline, not for match quality.
* UserData has no `whatsapp_business_account_id` (SDK 26.0.3): a two-line subclass adds it.
* `EventRequest.execute(http_client=...)` hands the HttpServiceInterface `data` as a list of
  per-event JSON strings (the SDK's default transport form-encodes that list for graph.facebook.com).
  The emulator wants JSON objects, so the client joins the SDK's strings into one JSON array
  (`[` + `,`.join + `]`): the bytes of each event are the SDK's own.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
import requests
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.event_response import EventResponse
from facebook_business.adobjects.serverside.gender import Gender
from facebook_business.adobjects.serverside.http_service_interface import HttpServiceInterface
from facebook_business.adobjects.serverside.messaging_channel import MessagingChannel
from facebook_business.adobjects.serverside.normalize import Normalize
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.session import FacebookSession
from requests.adapters import HTTPAdapter

BATCH = 1000
SOURCES = {
    "website": ActionSource.WEBSITE,
    "system_generated": ActionSource.SYSTEM_GENERATED,
    "business_messaging": ActionSource.BUSINESS_MESSAGING,
}
GENDERS = {"l": Gender.MALE, "m": Gender.MALE, "male": Gender.MALE, "p": Gender.FEMALE, "f": Gender.FEMALE,
           "female": Gender.FEMALE}  # fmt: skip
# The extract columns the baseline reads (raw lead values) and our per-row decisions it is given.
RAW = ("email", "phone", "first_name", "last_name", "city", "state", "zip_code", "country", "gender",
       "date_of_birth", "lead_id", "default_country", "default_currency", "lead_source_name", "fbclid",
       "fbc", "fbp", "client_ip", "client_user_agent", "landing_page_url", "meta_lead_id", "deal_value",
       "deal_currency", "ctwa_clid", "lead_created_at", "changed_at")  # fmt: skip
DECIDED = ("pixel_id", "event_name", "action_source", "event_id", "waba_id")


class WabaUserData(UserData):
    """UserData plus the WhatsApp Business Account id the SDK (26.0.3) has no field for."""

    def __init__(self, whatsapp_business_account_id: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.whatsapp_business_account_id = whatsapp_business_account_id

    def normalize(self) -> dict:
        payload = super().normalize()
        if self.whatsapp_business_account_id:
            payload["whatsapp_business_account_id"] = self.whatsapp_business_account_id
        return payload


class EmulatorHttpService(HttpServiceInterface):
    """The SDK's pluggable HTTP: POSTs its request to the emulator over one keep-alive session."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_maxsize=4, max_retries=0))
        self.http_seconds = 0.0
        self.requests = 0
        self.errors: dict[str, int] = defaultdict(int)

    def execute(self, url, method, request_options, headers, params) -> EventResponse:
        url = url.replace(FacebookSession.GRAPH, self.base_url, 1)
        rest = {k: v for k, v in params.items() if k != "data"}
        body = '{"data":[' + ",".join(params["data"]) + "]," + json.dumps(rest)[1:]
        started = time.perf_counter()
        response = self.session.post(
            url, data=body.encode(), headers={**headers, "Content-Type": "application/json"},
            timeout=self.timeout,
        )  # fmt: skip
        payload = response.json()
        self.http_seconds += time.perf_counter() - started
        self.requests += 1
        if response.status_code != 200:
            error = payload.get("error") or {}
            self.errors[f"{error.get('code')}/{error.get('error_subcode')}"] += 1
            return EventResponse(events_received=0, messages=[str(error.get("message"))], fbtrace_id=None)
        return EventResponse(events_received=payload.get("events_received"), messages=payload.get("messages"),
                             fbtrace_id=payload.get("fbtrace_id"))  # fmt: skip

    def close(self) -> None:
        self.session.close()


@dataclass
class SdkResult:
    events: int = 0
    events_received: int = 0
    requests: int = 0
    objects_seconds: float = 0.0  # rows -> UserData/CustomData/Event (incl. the app's field checks)
    execute_seconds: float = 0.0  # EventRequest.execute(): SDK normalise + hash + JSON + HTTP
    http_seconds: float = 0.0  # the part of execute spent in the POST round trip
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.objects_seconds + self.execute_seconds

    @property
    def normalise_seconds(self) -> float:
        return self.execute_seconds - self.http_seconds


def _checked(name: str, value) -> str | None:
    """The SDK's normalised + hashed value, or None where its normaliser refuses the value."""
    if value is None or value == "":
        return None
    try:
        return Normalize.normalize_field(name, value)
    except (TypeError, ValueError):
        return None


def _events(rows: pd.DataFrame) -> Iterator[tuple[tuple[str, str], Event]]:
    """(pixel, WABA) and the SDK Event for each row, built from the raw values."""
    columns = {c: rows[c].tolist() for c in RAW + DECIDED}
    event_time = (
        (rows["changed_at"] - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)
    ).tolist()
    created_ms = ((rows["lead_created_at"] - pd.Timestamp("1970-01-01", tz="UTC"))
                  // pd.Timedelta(milliseconds=1)).tolist()  # fmt: skip
    for i in range(len(rows)):
        source = columns["action_source"][i]
        name = columns["event_name"][i]
        waba = columns["waba_id"][i]
        if source == "business_messaging":
            user = WabaUserData(whatsapp_business_account_id=waba, ctwa_clid=columns["ctwa_clid"][i])
        else:
            email = _checked("em", columns["email"][i])
            phone = _checked("ph", columns["phone"][i])
            country = _checked("country", columns["country"][i]) or _checked(
                "country", columns["default_country"][i]
            )
            gender = GENDERS.get((columns["gender"][i] or "").strip().lower())
            dob = columns["date_of_birth"][i]
            fbc = columns["fbc"][i]
            if not fbc and columns["fbclid"][i]:
                fbc = f"fb.1.{created_ms[i]}.{columns['fbclid'][i]}"
            user = UserData(
                emails=[email] if email else None,
                phones=[phone] if phone else None,
                first_names=[columns["first_name"][i]] if columns["first_name"][i] else None,
                last_names=[columns["last_name"][i]] if columns["last_name"][i] else None,
                cities=[columns["city"][i]] if columns["city"][i] else None,
                states=[columns["state"][i]] if columns["state"][i] else None,
                zip_codes=[columns["zip_code"][i]] if columns["zip_code"][i] else None,
                country_codes=[country] if country else None,
                genders=[gender] if gender else None,
                dates_of_birth=[dob.strftime("%Y%m%d")] if dob is not None else None,
                external_ids=[Normalize.hash_sha_256(str(columns["lead_id"][i]))],
                client_ip_address=columns["client_ip"][i],
                client_user_agent=columns["client_user_agent"][i],
                fbc=fbc,
                fbp=columns["fbp"][i],
                lead_id=columns["meta_lead_id"][i],
            )
        custom = None
        properties = None
        if source == "system_generated":
            properties = {"event_source": "crm"}
            if columns["lead_source_name"][i]:
                properties["lead_event_source"] = columns["lead_source_name"][i]
        if name == "Purchase":
            currency = columns["deal_currency"][i] or columns["default_currency"][i]
            custom = CustomData(value=float(columns["deal_value"][i]), currency=currency,
                                custom_properties=properties)  # fmt: skip
        elif properties:
            custom = CustomData(custom_properties=properties)
        event = Event(
            event_name=name,
            event_time=int(event_time[i]),
            event_id=columns["event_id"][i],
            action_source=SOURCES[source],
            user_data=user,
            custom_data=custom,
            event_source_url=columns["landing_page_url"][i] if source == "website" else None,
            messaging_channel=MessagingChannel.WHATSAPP if source == "business_messaging" else None,
        )
        yield (columns["pixel_id"][i], waba or ""), event


class SdkSender:
    """Buffers SDK events per (pixel, WABA) and sends each full buffer with EventRequest.execute()."""

    def __init__(self, base_url: str, tokens: dict[str, str], test_codes: dict[str, str | None]) -> None:
        self.http = EmulatorHttpService(base_url)
        self.tokens = tokens
        self.test_codes = test_codes
        self.buffers: dict[tuple[str, str], list[Event]] = defaultdict(list)
        self.result = SdkResult()

    def add_rows(self, rows: pd.DataFrame) -> None:
        started = time.perf_counter()
        for key, event in _events(rows):
            buffer = self.buffers[key]
            buffer.append(event)
            if len(buffer) == BATCH:
                self.result.objects_seconds += time.perf_counter() - started
                self._send(key)
                started = time.perf_counter()
        self.result.objects_seconds += time.perf_counter() - started

    def flush(self) -> SdkResult:
        for key in list(self.buffers):
            if self.buffers[key]:
                self._send(key)
        self.result.http_seconds = self.http.http_seconds
        self.result.requests = self.http.requests
        self.result.errors = dict(self.http.errors)
        self.http.close()
        return self.result

    def _send(self, key: tuple[str, str]) -> None:
        events = self.buffers.pop(key)
        pixel_id = key[0]
        started = time.perf_counter()
        request = EventRequest(pixel_id=pixel_id, events=events, http_client=self.http,
                               access_token=self.tokens.get(pixel_id) or "bench-token",
                               test_event_code=self.test_codes.get(pixel_id))  # fmt: skip
        response = request.execute()
        self.result.execute_seconds += time.perf_counter() - started
        self.result.events += len(events)
        self.result.events_received += int(response.events_received or 0)
