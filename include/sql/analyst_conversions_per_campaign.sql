-- Conversions per Meta campaign (and ad set and ad), from the ids of the leads' landing URLs.
SELECT pixel_id, campaign_id, adset_id, ad_id, event_name, count(*) AS conversions
FROM sync_logs
WHERE status = 'accepted' AND test_event_code IS NULL AND campaign_id IS NOT NULL
GROUP BY pixel_id, campaign_id, adset_id, ad_id, event_name
ORDER BY pixel_id, campaign_id, adset_id, ad_id, event_name;
