-- Every (mapped change, enabled pixel) pair of the run's window, and how many have an outcome, by state.
SELECT
    count(*)                                          AS pairs,
    count(s.status)                                   AS recorded,
    count(*) FILTER (WHERE s.status = 'failed')       AS failed
FROM lead_status_changes c
JOIN leads l       ON l.id = c.lead_id
JOIN meta_pixels p ON p.workspace_id = l.workspace_id AND p.enabled
LEFT JOIN sync_logs s ON s.status_change_id = c.id AND s.pixel_id = p.pixel_id
WHERE c.changed_at > %(window_start)s
  AND c.changed_at <= %(window_end)s
  AND c.to_status = ANY(%(statuses)s::text[])
  AND (%(pixel_ids)s::text[] IS NULL OR p.pixel_id = ANY(%(pixel_ids)s::text[]))
