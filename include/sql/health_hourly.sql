-- The health page's chart: outcomes per pixel, hour of the conversion (event_time, UTC) and status.
-- An index-only scan of a range of sync_logs_time_status; the expression is the one of the statistics
-- sync_logs_health_hour (pipeline_schema.sql): the planner then hashes the few groups instead of sorting.
-- date_bin from a UTC midnight: UTC hours whatever the session's time zone (date_trunc with a zone looks
-- the zone up for every row: 6x slower here).
SELECT s.pixel_id, date_bin('1 hour', s.event_time, timestamptz '2000-01-01 00:00:00+00') AS hour, s.status,
       count(*) AS n
FROM sync_logs s
WHERE s.event_time >= %(since)s
  AND s.event_time < %(until)s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
