-- What a run owes: the one definition that extract_changes, plan_groups and run_completeness include
-- (`-- @include owed_pairs` after their WITH). Two common table expressions:
--
-- window_pairs  every (mapped status change, enabled pixel of its lead's workspace) pair of the run's
--               window, with the test code this run sends that pixel's events with (`test_code`).
-- owed          the pairs the run still has to process, per (change, meta_pixels id):
--               1. pairs of the window without a final outcome;
--               2. hourly runs only (retry_since set), pairs older or newer than the window whose
--                  outcome is not final: every `failed` pair (one still inside Meta's 7 days is sent
--                  again, an older one becomes `skipped` as too old, so the set empties itself), and
--                  events sent with a test code since retry_since that this run would send otherwise
--                  (the code was removed or changed: they go live).
--               These come from sync_logs' partial indexes (retry_logs: sync_logs_not_accepted by
--               pixel and 'failed', sync_logs_test_events by pixel and event_time), one range per
--               enabled pixel, never from a scan of all history.
--
-- A final outcome: accepted, partial_failure or skipped, sent live (test_event_code NULL) or with the
-- test code this run would send with. Statuses match trimmed and lower-cased ('Won', ' won ').
-- A change whose lead no longer exists belongs to no workspace, hence to no pixel: it is in neither
-- (run_orphan_changes counts it for the summary).
--
-- Parameters (psycopg2 pyformat): window_start, window_end, statuses (lower-case), pixel_ids and
-- workspace_ids (NULL = all), test_event_code (the run's; NULL = the pixels' own), retry_since
-- (NULL = no retries: backfills, dry runs).
window_pairs AS (
    SELECT c.id AS status_change_id, l.workspace_id, p.id AS pixel_key, p.pixel_id,
           coalesce(nullif(btrim(%(test_event_code)s::text), ''), nullif(btrim(p.test_event_code), ''))
               AS test_code
    FROM lead_status_changes c
    JOIN leads l       ON l.id = c.lead_id
    JOIN meta_pixels p ON p.workspace_id = l.workspace_id AND p.enabled
    WHERE c.changed_at > %(window_start)s
      AND c.changed_at <= %(window_end)s
      AND (c.to_status = ANY(%(statuses)s::text[]) OR lower(btrim(c.to_status)) = ANY(%(statuses)s::text[]))
      AND (%(workspace_ids)s::bigint[] IS NULL OR l.workspace_id = ANY(%(workspace_ids)s::bigint[]))
      AND (%(pixel_ids)s::text[] IS NULL OR p.pixel_id = ANY(%(pixel_ids)s::text[]))
),
-- The sync_logs rows an hourly run may owe again, read first and on their own (MATERIALIZED: whatever the
-- statistics of Konektor's tables, the planner starts here): `failed` ones and recent test sends of the
-- enabled pixels, one index range per pixel (pixel_id = ANY(...) is an index condition).
retry_logs AS MATERIALIZED (
    SELECT s.status_change_id, s.pixel_id, s.status, s.test_event_code
    FROM sync_logs s
    WHERE %(retry_since)s::timestamptz IS NOT NULL
      AND s.pixel_id = ANY (ARRAY(
            SELECT m.pixel_id FROM meta_pixels m
            WHERE m.enabled
              AND (%(workspace_ids)s::bigint[] IS NULL OR m.workspace_id = ANY(%(workspace_ids)s::bigint[]))
              AND (%(pixel_ids)s::text[] IS NULL OR m.pixel_id = ANY(%(pixel_ids)s::text[]))))
      AND (s.status = 'failed'
           OR (s.test_event_code IS NOT NULL
               AND s.status IN ('accepted', 'partial_failure')
               AND s.event_time > %(retry_since)s::timestamptz))
),
owed AS (
    SELECT w.status_change_id, w.workspace_id, w.pixel_key
    FROM window_pairs w
    WHERE NOT EXISTS (
            SELECT 1 FROM sync_logs s
            WHERE s.status_change_id = w.status_change_id
              AND s.pixel_id = w.pixel_id
              AND s.status IN ('accepted', 'partial_failure', 'skipped')
              AND (s.test_event_code IS NULL OR s.test_event_code = w.test_code))
    UNION ALL
    SELECT r.status_change_id, p.workspace_id, p.id
    FROM retry_logs r
    JOIN meta_pixels p         ON p.pixel_id = r.pixel_id AND p.enabled
    JOIN lead_status_changes c ON c.id = r.status_change_id
    JOIN leads l               ON l.id = c.lead_id AND l.workspace_id = p.workspace_id
    WHERE %(retry_since)s::timestamptz IS NOT NULL  -- a backfill's plan leaves this branch out entirely
      AND (%(workspace_ids)s::bigint[] IS NULL OR p.workspace_id = ANY(%(workspace_ids)s::bigint[]))
      AND (r.status = 'failed'
           OR r.test_event_code IS DISTINCT FROM
              coalesce(nullif(btrim(%(test_event_code)s::text), ''), nullif(btrim(p.test_event_code), '')))
      AND NOT (c.changed_at > %(window_start)s AND c.changed_at <= %(window_end)s)
      AND (c.to_status = ANY(%(statuses)s::text[]) OR lower(btrim(c.to_status)) = ANY(%(statuses)s::text[]))
)
