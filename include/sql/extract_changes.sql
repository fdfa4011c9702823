-- A group's work: mapped status changes inside the window, joined to their lead, workspace and every
-- enabled pixel of the workspace. Pairs that already have a final outcome (accepted, partial_failure,
-- skipped) are left out, so a rerun only redoes unfinished work. One statement, streamed by COPY:
-- PostgreSQL reads the window once (hash joins), whatever its size. Parameters (psycopg2 pyformat):
-- window_start, window_end, statuses, pixel_ids (NULL = all), ctwa_only, messaging_statuses.
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
    p.pixel_id,
    p.whatsapp_business_account_id   AS pixel_waba_id,
    l.email, l.phone, l.first_name, l.last_name, l.city, l.state, l.zip_code, l.country, l.gender,
    l.date_of_birth, l.agent_phone, l.ctwa_clid, l.fbclid, l.fbc, l.fbp, l.client_ip,
    l.client_user_agent, l.landing_page_url, l.meta_lead_id, l.deal_value, l.deal_currency,
    l.created_at                     AS lead_created_at
FROM lead_status_changes c
JOIN leads l       ON l.id = c.lead_id
JOIN workspaces w  ON w.id = l.workspace_id
JOIN meta_pixels p ON p.workspace_id = l.workspace_id AND p.enabled
WHERE c.changed_at > %(window_start)s
  AND c.changed_at <= %(window_end)s
  AND c.to_status = ANY(%(statuses)s::text[])
  AND (%(pixel_ids)s::text[] IS NULL OR p.pixel_id = ANY(%(pixel_ids)s::text[]))
  AND (NOT %(ctwa_only)s
       OR (coalesce(btrim(l.ctwa_clid), '') <> '' AND c.to_status = ANY(%(messaging_statuses)s::text[])))
  AND NOT EXISTS (
        SELECT 1 FROM sync_logs s
        WHERE s.status_change_id = c.id
          AND s.pixel_id = p.pixel_id
          AND s.status IN ('accepted', 'partial_failure', 'skipped'))
