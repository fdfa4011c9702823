-- What a run has to do, small enough for XCom: per pixel and agent number, how many (change, pixel)
-- pairs still lack a final outcome, and how many of them are Click-to-WhatsApp conversions.
SELECT
    p.pixel_id,
    l.workspace_id,
    w.default_country,
    p.whatsapp_business_account_id AS pixel_waba_id,
    l.agent_phone,
    count(*)                                                        AS n,
    count(*) FILTER (WHERE coalesce(btrim(l.ctwa_clid), '') <> ''
                       AND c.to_status = ANY(%(messaging_statuses)s::text[])) AS n_ctwa
FROM lead_status_changes c
JOIN leads l       ON l.id = c.lead_id
JOIN workspaces w  ON w.id = l.workspace_id
JOIN meta_pixels p ON p.workspace_id = l.workspace_id AND p.enabled
WHERE c.changed_at > %(window_start)s
  AND c.changed_at <= %(window_end)s
  AND c.to_status = ANY(%(statuses)s::text[])
  AND (%(pixel_ids)s::text[] IS NULL OR p.pixel_id = ANY(%(pixel_ids)s::text[]))
  AND NOT EXISTS (
        SELECT 1 FROM sync_logs s
        WHERE s.status_change_id = c.id
          AND s.pixel_id = p.pixel_id
          AND s.status IN ('accepted', 'partial_failure', 'skipped'))
GROUP BY p.pixel_id, l.workspace_id, w.default_country, p.whatsapp_business_account_id, l.agent_phone
ORDER BY p.pixel_id, l.agent_phone
