"""ISO 4217 currency codes a deal may be in: what Meta takes as `custom_data.currency`.

From pycountry (the Debian iso-codes list, kept current), less the codes that are not money a deal is
paid in: precious metals, bond-market units, the IMF's and ADB's units, "testing" and "no currency".
An unknown code such as `XYZ` rejects its whole batch at Meta, so it is held back before sending.
"""

from __future__ import annotations

from functools import cache

NOT_MONEY = frozenset({"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS",
                       "XXX"})  # fmt: skip


@cache
def iso_4217() -> frozenset[str]:
    import pycountry  # reads its JSON database on first use only

    return frozenset(c.alpha_3 for c in pycountry.currencies) - NOT_MONEY
