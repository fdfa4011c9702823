"""scrub: no spelling of a token, and no fragment a cut left of it, survives."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from konektor_capi.scrub import MASK, scrub, scrub_and_cut

pytestmark = pytest.mark.unit

# Characters that URL-encoding and JSON-escaping both change, so each form differs from the raw token.
TOKEN = 'EAAB+tok/en="sëcret" \\ZZ9'  # the space: quote_plus differs from quote only there
FORMS = {
    "raw": TOKEN,
    "quote": quote(TOKEN, safe=""),
    "quote_keeping_slash": quote(TOKEN),
    "quote_plus": quote_plus(TOKEN),
    "json_ascii": json.dumps(TOKEN)[1:-1],
    "json_utf8": json.dumps(TOKEN, ensure_ascii=False)[1:-1],
}


def test_the_forms_really_differ() -> None:
    assert len(set(FORMS.values())) == len(FORMS)


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_of_the_token_is_masked(form) -> None:
    text = f"Invalid parameter near access_token={FORMS[form]} (code 100)"
    out = scrub(text, TOKEN)
    for spelling in FORMS.values():
        assert spelling not in out
    assert out == f"Invalid parameter near access_token={MASK} (code 100)"


def test_every_occurrence_and_several_tokens() -> None:
    other = "EAAotherTOKEN123456"
    text = f"{TOKEN} and {other} and {FORMS['quote_plus']} again {TOKEN}"
    assert scrub(text, [TOKEN, other, None]) == f"{MASK} and {MASK} and {MASK} again {MASK}"


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("cut", [8, 12, 20])
def test_a_cut_through_the_token_leaves_no_fragment(form, cut) -> None:
    spelled = FORMS[form]
    if cut >= len(spelled):
        pytest.skip("shorter than the cut")
    text = "x" * 40 + spelled  # what Meta sent
    truncated = text[: 40 + cut]  # someone (Meta, a proxy) cut it before we saw it
    out = scrub(truncated, TOKEN)
    assert out == "x" * 40 + MASK
    assert spelled[:cut] not in out


def test_scrub_before_cutting() -> None:
    text = "y" * 95 + TOKEN + " tail"
    out = scrub_and_cut(text, TOKEN, 100)
    assert out == "y" * 95 + MASK + " tail"[:2]
    assert TOKEN[:5] not in out


def test_short_endings_and_unrelated_text_stay() -> None:
    assert scrub("ends with EAAB+to", TOKEN) == "ends with EAAB+to"  # 7 characters: too short to mask
    assert scrub("nothing secret here", TOKEN) == "nothing secret here"
    assert scrub(None, TOKEN) is None and scrub("", TOKEN) == ""
    assert scrub("no token given", "") == "no token given"
    assert scrub("no token given", [None, ""]) == "no token given"


def test_custom_mask() -> None:
    assert scrub(f"a {TOKEN} b", TOKEN, mask="[redacted]") == "a [redacted] b"
