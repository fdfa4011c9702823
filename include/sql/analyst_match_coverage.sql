-- Match coverage per pixel: of the events Meta took, the share that carried each match key.
SELECT pixel_id,
       count(*)                                                                          AS events,
       round(100.0 * count(*) FILTER (WHERE 'em' = ANY (keys)) / count(*), 1)                AS em_pct,
       round(100.0 * count(*) FILTER (WHERE 'ph' = ANY (keys)) / count(*), 1)                AS ph_pct,
       round(100.0 * count(*) FILTER (WHERE 'fbc' = ANY (keys)) / count(*), 1)               AS fbc_pct,
       round(100.0 * count(*) FILTER (WHERE 'fbp' = ANY (keys)) / count(*), 1)               AS fbp_pct,
       round(100.0 * count(*) FILTER (WHERE 'client_ip_address' = ANY (keys)) / count(*), 1) AS ip_pct,
       round(100.0 * count(*) FILTER (WHERE 'ctwa_clid' = ANY (keys)) / count(*), 1)         AS ctwa_clid_pct
FROM (SELECT pixel_id, string_to_array(match_keys, ',') AS keys
      FROM sync_logs
      WHERE status = 'accepted' AND test_event_code IS NULL) AS accepted
GROUP BY pixel_id
ORDER BY pixel_id;
