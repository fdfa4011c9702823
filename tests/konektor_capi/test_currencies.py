"""ISO 4217 currency codes (issue 14, rule 6)."""

from __future__ import annotations

import pytest

from konektor_capi.currencies import iso_4217

pytestmark = pytest.mark.unit


def test_real_currencies_are_codes_and_made_up_or_non_money_ones_are_not():
    codes = iso_4217()
    assert {"IDR", "USD", "EUR", "SGD", "MYR", "XOF", "XCD"} <= codes
    assert not {"XYZ", "XXX", "XTS", "XAU", "RP", "idr"} & codes
    assert all(len(c) == 3 and c.isupper() for c in codes)
