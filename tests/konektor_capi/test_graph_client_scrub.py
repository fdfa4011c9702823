"""The Graph client scrubs the token from every text of Meta's answer before it cuts that text."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest
import requests

from konektor_capi.graph_client import MESSAGE_LIMIT, GraphApiClient, GraphApiConfig
from konektor_capi.retry_policy import Backoff

pytestmark = pytest.mark.unit

TOKEN = 'EAABclient+Token/"x" 99'


class StubSession(requests.Session):
    def __init__(self, *answers):
        super().__init__()
        self.answers = list(answers)

    def request(self, method, url, **kwargs):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def answer(status: int, payload) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(payload).encode()
    return response


def send(*answers):
    config = GraphApiConfig(base_url="https://graph.example", backoff=Backoff(max_retries=0))
    return GraphApiClient(config, session=StubSession(*answers)).send("1", b"{}", secret=TOKEN)


def test_an_error_message_cut_inside_the_token_keeps_no_fragment_of_it():
    message = "x" * (MESSAGE_LIMIT - 10) + TOKEN + " and more"  # a cut at the limit lands in the token
    result = send(answer(400, {"error": {"message": message, "code": 190, "fbtrace_id": f"A{TOKEN}"}}))
    assert result.error.message == "x" * (MESSAGE_LIMIT - 10) + "***" + " and mor"[: 10 - 3]
    assert len(result.error.message) == MESSAGE_LIMIT
    assert result.fbtrace_id == result.error.fbtrace_id == "A***"
    assert TOKEN[:8] not in result.error.reason


def test_success_messages_and_trace_are_scrubbed_in_every_form():
    messages = [f"raw {TOKEN}", f"form {quote_plus(TOKEN)}", f"json {json.dumps(TOKEN)[1:-1]}"]
    result = send(answer(200, {"events_received": 1, "messages": messages, "fbtrace_id": TOKEN}))
    assert result.messages == ("raw ***", "form ***", "json ***")
    assert result.fbtrace_id == "***"


def test_a_transport_error_that_quotes_the_token_is_scrubbed():
    result = send(requests.exceptions.InvalidHeader(f"Invalid header value 'Bearer {TOKEN}'"))
    assert result.error.message == "InvalidHeader: Invalid header value 'Bearer ***'"
