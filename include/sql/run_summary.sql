-- Outcomes of the pairs in a run's window, by pixel, event and status: what an analyst asks first.
SELECT s.pixel_id, coalesce(s.event_name, '-') AS event_name, s.status, count(*) AS n
FROM sync_logs s
JOIN lead_status_changes c ON c.id = s.status_change_id
WHERE c.changed_at > %(window_start)s
  AND c.changed_at <= %(window_end)s
  AND (%(pixel_ids)s::text[] IS NULL OR s.pixel_id = ANY(%(pixel_ids)s::text[]))
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
