SELECT run_id, mode, window_start, window_end, pixel_ids, dry_run, test_event_code
FROM sync_runs WHERE run_id = %(run_id)s
