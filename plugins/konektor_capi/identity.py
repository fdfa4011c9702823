"""Meta's identity rule: which customer information an event may go with, and which keys it carries.

Meta rejects an event only when its customer information is (a subset of) one of four weak
combinations (contract doc, "Customer Information Parameters"); anything else is valid, e.g.
`fn + ln + ct + zp + country`, or `external_id` alone. The present keys of each row are one bit
each, so the rule is a few integer operations over the whole frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# user_data's customer information keys, in the order a row's keys are written (`key_names`).
CUSTOMER_KEYS = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id", "fbc", "fbp",
                 "client_ip_address", "client_user_agent", "lead_id")  # fmt: skip
WEAK_COMBINATIONS = (
    ("ct", "country", "st", "zp", "ge", "client_user_agent"),
    ("db", "client_user_agent"),
    ("fn", "ge"),
    ("ln", "ge"),
)
BIT = {key: 1 << i for i, key in enumerate(CUSTOMER_KEYS)}
_WEAK_MASKS = tuple(sum(BIT[k] for k in combination) for combination in WEAK_COMBINATIONS)


def key_bits(user_data: pd.DataFrame, keys: tuple[str, ...] = CUSTOMER_KEYS) -> np.ndarray:
    """Per row, one bit (BIT[key]) for each of `keys` whose column holds a value."""
    bits = np.zeros(len(user_data), dtype=np.int64)
    for key in keys:
        if key in user_data:
            bits |= user_data[key].notna().to_numpy(dtype=bool).astype(np.int64) * BIT[key]
    return bits


def is_weak(bits: np.ndarray) -> np.ndarray:
    """True where Meta would reject the keys: none at all, or all inside one weak combination."""
    weak = bits == 0
    for mask in _WEAK_MASKS:
        weak |= (bits & ~mask) == 0
    return weak


def key_names(bits: np.ndarray) -> np.ndarray:
    """Per row, its keys as text (`em,ph,fbc,client_ip_address`), None where it has none."""
    codes, distinct = pd.factorize(bits)
    names = [",".join(k for k in CUSTOMER_KEYS if int(b) & BIT[k]) or None for b in distinct]
    return np.asarray(names + [None], dtype=object)[codes]


def weak_reason(bits: np.ndarray) -> np.ndarray:
    """Why Meta would reject each row's customer information (for weak rows)."""
    names = key_names(bits)
    shown = np.where(pd.isna(names), "none", names.astype(object))
    return ("customer information too weak for Meta to match (" + pd.Series(shown, dtype="string")
            + "): Meta rejects an event whose keys are none or all within ct+country+st+zp+ge+"
            "client_user_agent, db+client_user_agent, fn+ge or ln+ge").to_numpy(dtype=object)  # fmt: skip
