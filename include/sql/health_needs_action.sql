-- Pixels that need a person now: Meta refused the token, the permission or the pixel id (a `failed` pair
-- stays failed until a run after the fix sends it: every one in the window is still undelivered), or
-- the pixel's configuration made the sync skip its events (recent skips only: a skip is final, so an
-- old one may have been fixed since). Codes as retry_policy's FAIL_PIXEL classes. An index-only scan of a
-- range of sync_logs_not_accepted_time.
WITH problems AS (
    SELECT s.pixel_id, s.workspace_id, s.status_change_id, s.updated_at, s.reason,
           CASE
               WHEN s.status = 'failed' AND s.error_code = 190 THEN 'token_refused'
               WHEN s.status = 'failed' AND (s.error_code = 10 OR s.error_code BETWEEN 200 AND 299)
                   THEN 'permission_missing'
               WHEN s.status = 'failed' AND s.error_code = 100 AND s.error_subcode = 33 THEN 'unknown_pixel'
               WHEN s.status = 'skipped' AND s.reason = %(no_token)s AND s.updated_at >= %(recent)s
                   THEN 'token_missing'
               WHEN s.status = 'skipped' AND s.reason = %(not_numeric)s AND s.updated_at >= %(recent)s
                   THEN 'unknown_pixel'
           END AS problem
    FROM sync_logs s
    WHERE s.status <> 'accepted'
      AND s.status IN ('failed', 'skipped')
      AND s.event_time >= %(since)s
      AND s.event_time < %(until)s
      AND (s.status = 'failed' OR s.reason IN (%(no_token)s, %(not_numeric)s))
)
SELECT pixel_id, min(workspace_id) AS workspace_id, problem, count(*) AS events, max(updated_at) AS last_seen,
       min(status_change_id) AS example_status_change_id,
       (array_agg(reason ORDER BY updated_at DESC, status_change_id))[1] AS latest_reason
FROM problems
WHERE problem IS NOT NULL
GROUP BY pixel_id, problem
ORDER BY max(updated_at) DESC, pixel_id, problem
