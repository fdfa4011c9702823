"""The Meta ad ids of a lead's landing URL (issue 14, rule 8)."""

from __future__ import annotations

import pandas as pd
import pytest

from konektor_capi.ad_ids import ad_ids

pytestmark = pytest.mark.unit

TEMPLATE = ("https://toko.id/promo?utm_source=fb&utm_medium=paid&utm_campaign=Lebaran%20Sale"
            "&campaign_id=120210000000001&adset_id=120210000000002&ad_id=120210000000003")  # fmt: skip


def frame(*rows: dict) -> pd.DataFrame:
    base = {"landing_page_url": None, "lead_campaign_id": None, "lead_adset_id": None, "lead_ad_id": None}
    return pd.DataFrame([base | row for row in rows])


def test_the_recommended_url_template_gives_campaign_adset_and_ad():
    ids = ad_ids(frame({"landing_page_url": TEMPLATE}, {"landing_page_url": TEMPLATE}))
    assert ids["campaign_id"].tolist() == ["120210000000001"] * 2
    assert ids["adset_id"].tolist() == ["120210000000002"] * 2
    assert ids["ad_id"].tolist() == ["120210000000003"] * 2


def test_unexpanded_or_missing_ids_fall_back_to_the_leads_columns_else_none():
    rows = frame(
        {
            "landing_page_url": "https://toko.id/?campaign_id={{campaign.id}}&ad_id=77",
            "lead_campaign_id": "55",
        },
        {"landing_page_url": "https://toko.id/promo", "lead_adset_id": " 66 "},
        {"landing_page_url": "http://[::1/?ad_id=1"},  # not a URL
        {"landing_page_url": "toko.id?ad_id=abc"},
        {},
    )
    ids = ad_ids(rows)
    assert ids["campaign_id"].tolist() == ["55", None, None, None, None]
    assert ids["adset_id"].tolist() == [None, "66", None, None, None]
    assert ids["ad_id"].tolist() == ["77", None, None, None, None]
