-- What a run has to do, small enough for XCom: per workspace, how many (change, pixel) pairs still lack
-- a final outcome.
SELECT l.workspace_id, count(*) AS n
FROM lead_status_changes c
JOIN leads l       ON l.id = c.lead_id
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
GROUP BY l.workspace_id
ORDER BY l.workspace_id
