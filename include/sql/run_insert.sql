-- First attempt of a run fixes its window; a rerun finds it here and redoes exactly that window.
INSERT INTO sync_runs (run_id, mode, window_start, window_end, pixel_ids, dry_run, test_event_code)
VALUES (%(run_id)s, %(mode)s, %(window_start)s, %(window_end)s, %(pixel_ids)s, %(dry_run)s, %(test_event_code)s)
ON CONFLICT (run_id) DO NOTHING
