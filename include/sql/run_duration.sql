SELECT extract(epoch FROM clock_timestamp() - started_at)::float8 FROM sync_runs WHERE run_id = %(run_id)s
