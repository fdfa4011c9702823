"""WABA ids: usable ones cleaned, unusable ones named with where they came from."""

from __future__ import annotations

import pandas as pd
import pytest

from konektor_capi.waba import SESSION_WABA_PROBLEM, session_waba_lookup, session_wabas, waba_problems

pytestmark = pytest.mark.unit


def test_an_id_that_is_there_but_not_a_number_is_named_with_its_owner():
    values = pd.Series(["WABA-ABC", " 9000 0000 01 ", None, "  ", "123", "9000000000001"])
    owners = pd.Series([f"pixel {i}" for i in range(6)])
    assert waba_problems(values, owners).tolist() == [
        "WhatsApp Business Account id 'WABA-ABC' of pixel 0 is not numeric (5 to 20 digits)",
        None,  # pasted with spaces: usable
        None,  # NULL and blank: simply none
        None,
        "WhatsApp Business Account id '123' of pixel 4 is not numeric (5 to 20 digits)",
        None,
    ]


def sessions(*rows: tuple[int, str, str | None]) -> pd.DataFrame:
    return pd.DataFrame([{"id": i, "workspace_id": 1, "phone_number": phone, "waba_id": waba,
                          "default_country": "ID"} for i, phone, waba in rows])  # fmt: skip


def test_a_number_whose_sessions_all_have_unusable_wabas_keeps_the_oldest_to_name_it():
    lookup = session_waba_lookup(sessions(
        (7, "0812 1111 2222", "WABA-B"), (4, "+62 812 1111 2222", "WABA-A"),
        (5, "0813 0000 0000", "WABA-C"), (9, "0813 0000 0000", "9000000001"),
    ))  # fmt: skip
    result = session_wabas(pd.Series([1, 1, 1]), pd.Series(["081211112222", "081300000000", "0899"]),
                           pd.Series(["ID"] * 3), lookup)  # fmt: skip
    assert result.tolist() == [None, "9000000001", None]  # a usable WABA wins even when newer
    assert result.attrs[SESSION_WABA_PROBLEM].tolist() == [
        "WhatsApp Business Account id 'WABA-A' of WhatsApp session 4 is not numeric (5 to 20 digits)",
        None,
        None,
    ]
