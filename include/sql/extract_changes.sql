-- A group's work: one row per mapped status change that still owes an outcome to at least one enabled
-- pixel of its workspace (`owed` in owed_pairs.sql: the window's pairs without a final outcome, and for
-- an hourly run the older failed or test-sent pairs), with its lead and workspace, and in `pixel_keys`
-- the meta_pixels ids (space-separated) of the pixels it owes. A rerun only redoes unfinished work. One
-- row per change, not per pixel: the lead's data crosses the wire, and is normalised and hashed, once.
-- One statement, streamed by COPY; hash joins read the window once whatever its size. Parameters: those
-- of owed_pairs.sql (workspace_ids: the group's).
WITH
-- @include owed_pairs
, pending AS (
    SELECT status_change_id, string_agg(pixel_key::text, ' ' ORDER BY pixel_key) AS pixel_keys
    FROM owed
    GROUP BY status_change_id
)
SELECT
    c.id                             AS status_change_id,
    c.lead_id,
    c.to_status,
    c.changed_at,
    c.event_id                       AS change_event_id,
    l.workspace_id,
    w.default_country,
    w.default_currency,
    w.lead_source_name,
    l.email, l.phone, l.first_name, l.last_name, l.city, l.state, l.zip_code, l.country, l.gender,
    l.date_of_birth, l.agent_phone, l.ctwa_clid, l.fbclid, l.fbc, l.fbp, l.client_ip,
    l.client_user_agent, l.landing_page_url, l.meta_lead_id, l.deal_value, l.deal_currency,
    l.campaign_id                    AS lead_campaign_id,
    l.adset_id                       AS lead_adset_id,
    l.ad_id                          AS lead_ad_id,
    l.created_at                     AS lead_created_at,
    pending.pixel_keys
FROM pending
JOIN lead_status_changes c ON c.id = pending.status_change_id
JOIN leads l               ON l.id = c.lead_id
JOIN workspaces w          ON w.id = l.workspace_id
