SELECT s.status, s.reason, count(*) AS n
FROM sync_logs s
JOIN lead_status_changes c ON c.id = s.status_change_id
WHERE c.changed_at > %(window_start)s
  AND c.changed_at <= %(window_end)s
  AND (%(pixel_ids)s::text[] IS NULL OR s.pixel_id = ANY(%(pixel_ids)s::text[]))
  AND s.status <> 'accepted'
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
LIMIT %(limit)s
