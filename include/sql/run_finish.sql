UPDATE sync_runs SET finished_at = now(), summary = %(summary)s::jsonb WHERE run_id = %(run_id)s
