-- A workspace's lease (pipeline.WorkspaceLeases): a session advisory lock, taken without waiting. Two
-- int4 keys, our namespace and the workspace id (ids beyond int4 fold onto it: two such workspaces would
-- only share a lease).
SELECT pg_try_advisory_lock(%(namespace)s::int, (%(workspace_id)s::bigint & 2147483647)::int)
