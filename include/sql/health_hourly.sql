-- The health page's chart: outcomes per pixel, hour of the conversion (event_time, UTC) and status.
-- `status = ANY(...)` makes one range of sync_logs_status_time per status: an index-only scan, no heap.
SELECT s.pixel_id, date_trunc('hour', s.event_time, 'UTC') AS hour, s.status, count(*) AS n
FROM sync_logs s
WHERE s.status = ANY (ARRAY['accepted', 'partial_failure', 'failed', 'skipped'])
  AND s.event_time >= %(since)s
  AND s.event_time < %(until)s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
