-- The health page's top reasons an event did not go through, with one status change to look at.
-- An index-only scan of a range of sync_logs_not_accepted_time (the rows not accepted, reason included).
SELECT s.status, s.reason, count(*) AS n, count(DISTINCT s.pixel_id) AS pixels,
       min(s.status_change_id) AS example_status_change_id
FROM sync_logs s
WHERE s.status <> 'accepted'
  AND s.event_time >= %(since)s
  AND s.event_time < %(until)s
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
LIMIT %(limit)s
