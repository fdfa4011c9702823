"""The Meta ad ids a lead came from, out of its landing URL: for analysts' conversions per campaign.

Konektor's recommended URL parameters for Meta ads fill the lead's columns of the same names:
`?utm_source={{site_source_name}}&utm_medium=paid&utm_campaign={{campaign.name}}`
`&campaign_id={{campaign.id}}&adset_id={{adset.id}}&ad_id={{ad.id}}`. Each id is read from the landing
URL's query (the click's own record), else from the lead's column. Meta's ids are numbers: an
unexpanded `{{ad.id}}` or anything else is left out. Ad ids are not PII.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from konektor_capi.hashing import factorize_text, take

AD_ID_COLUMNS = ("campaign_id", "adset_id", "ad_id")
# The extract's names for the lead's own columns (leads.campaign_id, ...).
LEAD_COLUMNS = {name: f"lead_{name}" for name in AD_ID_COLUMNS}
_ID = re.compile(r"[0-9]{1,20}")
MAX_URL = 4096


def _from_url(url: str) -> tuple[str | None, ...]:
    if len(url) > MAX_URL or "?" not in url:
        return (None,) * len(AD_ID_COLUMNS)
    try:
        query = parse_qs(urlsplit(url.strip()).query)
    except ValueError:  # an unparseable URL (a bad IPv6 literal) names no ad
        return (None,) * len(AD_ID_COLUMNS)
    return tuple(_id((query.get(name) or [None])[0]) for name in AD_ID_COLUMNS)


def _id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value if _ID.fullmatch(value) else None


def ad_ids(changes: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per row, campaign_id, adset_id and ad_id (str or None), from the landing URL else the lead."""
    codes, urls = factorize_text(changes["landing_page_url"])
    parsed = [_from_url(url) for url in urls]  # once per distinct URL
    out = {}
    for i, name in enumerate(AD_ID_COLUMNS):
        from_url = take([p[i] for p in parsed], codes)
        lead_column = LEAD_COLUMNS[name]
        if lead_column in changes:
            lead_codes, lead_texts = factorize_text(changes[lead_column])
            from_lead = take([_id(t) for t in lead_texts], lead_codes)
            from_url = np.where(pd.isna(from_url), from_lead, from_url)
        out[name] = from_url
    return out
