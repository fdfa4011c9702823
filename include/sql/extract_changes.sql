-- A group's work: one row per mapped status change inside the window that still owes an outcome to at
-- least one enabled pixel of its workspace, with its lead and workspace, and in `pixel_keys` the
-- meta_pixels ids (space-separated) of the pixels it owes. Pairs with a final outcome (accepted,
-- partial_failure, skipped) are left out, so a rerun only redoes unfinished work. One row per change,
-- not per pixel: the lead's data crosses the wire, and is normalised and hashed, once.
-- One statement, streamed by COPY; hash joins read the window once whatever its size. Parameters
-- (psycopg2 pyformat): window_start, window_end, statuses, pixel_ids (NULL = all), workspace_ids.
WITH pending AS (
    SELECT c.id AS status_change_id, string_agg(p.id::text, ' ' ORDER BY p.id) AS pixel_keys
    FROM lead_status_changes c
    JOIN leads l       ON l.id = c.lead_id
    JOIN meta_pixels p ON p.workspace_id = l.workspace_id AND p.enabled
    WHERE c.changed_at > %(window_start)s
      AND c.changed_at <= %(window_end)s
      AND c.to_status = ANY(%(statuses)s::text[])
      AND l.workspace_id = ANY(%(workspace_ids)s::bigint[])
      AND (%(pixel_ids)s::text[] IS NULL OR p.pixel_id = ANY(%(pixel_ids)s::text[]))
      AND NOT EXISTS (
            SELECT 1 FROM sync_logs s
            WHERE s.status_change_id = c.id
              AND s.pixel_id = p.pixel_id
              AND s.status IN ('accepted', 'partial_failure', 'skipped'))
    GROUP BY c.id
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
    l.created_at                     AS lead_created_at,
    pending.pixel_keys
FROM pending
JOIN lead_status_changes c ON c.id = pending.status_change_id
JOIN leads l               ON l.id = c.lead_id
JOIN workspaces w          ON w.id = l.workspace_id
