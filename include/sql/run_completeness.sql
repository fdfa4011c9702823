-- Every (mapped change, enabled pixel) pair of the run's window (owed_pairs.sql), and how many have an
-- outcome, by state. A pair sent with a test code has one: the watermark may pass it (the hourly retry
-- sends it live once the code is gone).
WITH
-- @include owed_pairs
SELECT
    count(*)                                          AS pairs,
    count(s.status)                                   AS recorded,
    count(*) FILTER (WHERE s.status = 'failed')       AS failed
FROM window_pairs w
LEFT JOIN sync_logs s ON s.status_change_id = w.status_change_id AND s.pixel_id = w.pixel_id
