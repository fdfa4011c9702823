-- Match-key coverage per pixel: of the events Meta took (accepted, partial_failure) in the range, how many
-- carried each key. `match_keys` is a comma-separated list ('em,ph,fbc'; a text[] reads the same once its
-- braces are trimmed). The row with key NULL is the pixel's number of events that record their keys.
WITH sent AS (
    SELECT s.pixel_id, s.match_keys::text AS keys
    FROM sync_logs s
    WHERE s.status = ANY (ARRAY['accepted', 'partial_failure'])
      AND s.event_time >= %(since)s
      AND s.event_time < %(until)s
      AND s.match_keys IS NOT NULL
)
SELECT pixel_id, NULL AS key, count(*) AS n FROM sent GROUP BY 1
UNION ALL
SELECT pixel_id, k.key, count(*) AS n
FROM sent CROSS JOIN LATERAL regexp_split_to_table(btrim(keys, '{} '), '\s*,\s*') AS k(key)
WHERE k.key <> ''
GROUP BY 1, 2
ORDER BY 1, 2 NULLS FIRST
