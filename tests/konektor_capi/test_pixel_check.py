"""check_pixel / check_base_url: one GET, token in the header only, Meta's errors explained, no token out."""

from __future__ import annotations

import json

import pytest
import requests

from konektor_capi.graph_client import GraphApiClient, GraphApiConfig
from konektor_capi.pixel_check import PixelCheck, check_base_url, check_pixel

pytestmark = pytest.mark.unit

PIXEL = "1234567890"
TOKEN = "EAAB-secret-token-do-not-print"


class StubSession(requests.Session):
    """Answers every request with the next canned answer (a Response or an exception to raise)."""

    def __init__(self, *answers):
        super().__init__()
        self.answers = list(answers)
        self.calls: list[tuple[str, str, dict]] = []

    def request(self, method, url, **kwargs):
        self.calls.append((method, url, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def answer(status: int, payload=None, body: bytes | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if body is not None else json.dumps(payload).encode()
    return response


def graph_error(code: int, subcode: int | None = None, message: str = "x", status: int = 400):
    err = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "T1"}
    if subcode is not None:
        err["error_subcode"] = subcode
    return answer(status, {"error": err})


def run(*answers, token: str | None = TOKEN) -> tuple[PixelCheck, StubSession]:
    session = StubSession(*answers)
    config = GraphApiConfig(base_url="https://graph.example", api_version="v25.0", connect_timeout=1.5,
                            read_timeout=4.0)  # fmt: skip
    return check_pixel(GraphApiClient(config, session=session), PIXEL, token), session


def test_ok_reads_id_and_name_with_the_token_in_a_bearer_header_only() -> None:
    result, session = run(answer(200, {"id": PIXEL, "name": "Toko Budi pixel"}))
    assert result == PixelCheck(True, "Toko Budi pixel")
    [(method, url, kwargs)] = session.calls
    assert method == "GET" and url == f"https://graph.example/v25.0/{PIXEL}"
    assert kwargs["params"] == {"fields": "id,name"}
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert kwargs["timeout"] == (1.5, 4.0)
    assert TOKEN not in url and TOKEN not in json.dumps(kwargs["params"])


@pytest.mark.parametrize("token", [None, "", "   "])
def test_no_token_fails_without_a_request(token) -> None:
    result, session = run(token=token)
    assert result == PixelCheck(False, "no access token configured")
    assert session.calls == []


@pytest.mark.parametrize("token", ["EAAB-se\ncret", "EAAB-se\rcret", "EAAB\u2014secret", "EAABé-secret"])
def test_a_token_a_header_cannot_carry_fails_without_a_request(token) -> None:
    result, session = run(token=token)
    assert result == PixelCheck(False, "the token holds characters an HTTP header cannot carry")
    assert session.calls == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (graph_error(190, None, "Invalid OAuth access token"), "access token invalid or expired"),
        (graph_error(190, 463, "Session has expired"), "access token invalid or expired"),
        (graph_error(200, None, "(#200) Permissions error"), "permission missing"),
        (graph_error(10, None, "(#10) no permission"), "permission missing"),
        (graph_error(275, None, "(#275) no access"), "permission missing"),
        (graph_error(100, 33, "Unsupported get request"), "pixel not found or not accessible with this"),
        (graph_error(17, 2446079, "User request limit reached"), "Graph API busy or failing, try again"),
        (graph_error(100, None, "Tried accessing nonexisting field"), "Graph API error"),
        (answer(503, body=b"<html>down</html>"), "Graph API unreachable: HTTP 503"),
        (answer(404, body=b"<html>not found</html>"), "unexpected answer from the Graph API: HTTP 404"),
    ],
)
def test_errors_are_explained(error, expected: str) -> None:
    result, _ = run(error)
    assert not result.ok
    assert result.message.startswith(expected), result.message


def test_transport_fault_is_unreachable() -> None:
    result, _ = run(requests.ConnectTimeout("timed out"))
    assert result == PixelCheck(False, "Graph API unreachable: ConnectTimeout: timed out")


def test_the_token_never_reaches_the_message() -> None:
    echoed = graph_error(190, None, f"Invalid OAuth access token {TOKEN}")
    assert TOKEN not in run(echoed)[0].message
    header_fault = requests.exceptions.InvalidHeader(f"Invalid return character in header: 'Bearer {TOKEN}'")
    result, _ = run(header_fault)
    assert not result.ok and TOKEN not in result.message and "[redacted]" in result.message


def test_an_answer_for_another_object_is_not_ok() -> None:
    result, _ = run(answer(200, {"id": "999", "name": "someone else"}))
    assert not result.ok


def test_base_url_check_accepts_a_graph_error_and_rejects_other_hosts() -> None:
    config = GraphApiConfig(base_url="https://graph.example")
    no_token = graph_error(2500, None, "An active access token must be used")
    assert check_base_url(GraphApiClient(config, session=StubSession(no_token))).ok
    html = answer(200, body=b"<html>welcome to nginx</html>")
    result = check_base_url(GraphApiClient(config, session=StubSession(html)))
    assert not result.ok and "check the base URL" in result.message
    down = check_base_url(GraphApiClient(config, session=StubSession(requests.ConnectionError("refused"))))
    assert not down.ok and down.message.startswith("Graph API unreachable at https://graph.example")
