INSERT INTO sync_run_groups (run_id, group_key, result) VALUES (%(run_id)s, %(group_key)s, %(result)s::jsonb)
ON CONFLICT (run_id, group_key) DO UPDATE SET result = excluded.result, updated_at = now()
