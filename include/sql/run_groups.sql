SELECT group_key, result FROM sync_run_groups WHERE run_id = %(run_id)s ORDER BY group_key
