-- The last runs with their windows and stored summaries (sync_runs is small: one row per run).
SELECT run_id, mode, dry_run, window_start, window_end, pixel_ids, test_event_code IS NOT NULL AS test_code,
       started_at, finished_at, summary
FROM sync_runs
ORDER BY started_at DESC, run_id
LIMIT %(limit)s
