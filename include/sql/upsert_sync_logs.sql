-- Moves a batch of outcomes from the session's staging table into sync_logs: the path for a batch whose
-- rows may already be there (a retry of a failed event, a live send of an event sent before with a test
-- code, or a rerun racing another writer). A final outcome is never overwritten by a later, worse one
-- (a late retry of an accepted event stays accepted), except one sent with a test code: any outcome
-- with another code, or live (test_event_code NULL), replaces it.
INSERT INTO sync_logs AS s (
    status_change_id, pixel_id, lead_id, workspace_id, waba_id, event_name, event_id, action_source,
    event_time, status, reason, error_code, error_subcode, fbtrace_id, attempts, run_id, test_event_code, note,
    match_keys, campaign_id, adset_id, ad_id)
SELECT status_change_id, pixel_id, lead_id, workspace_id, waba_id, event_name, event_id, action_source,
       event_time, status, reason, error_code, error_subcode, fbtrace_id, attempts, run_id, test_event_code, note,
       match_keys, campaign_id, adset_id, ad_id
FROM sync_logs_staging
ON CONFLICT (status_change_id, pixel_id) DO UPDATE SET
    waba_id         = excluded.waba_id,
    event_name      = excluded.event_name,
    event_id        = excluded.event_id,
    action_source   = excluded.action_source,
    status          = excluded.status,
    reason          = excluded.reason,
    error_code      = excluded.error_code,
    error_subcode   = excluded.error_subcode,
    fbtrace_id      = excluded.fbtrace_id,
    attempts        = s.attempts + excluded.attempts,
    run_id          = excluded.run_id,
    test_event_code = excluded.test_event_code,
    note            = excluded.note,
    match_keys      = excluded.match_keys,
    campaign_id     = excluded.campaign_id,
    adset_id        = excluded.adset_id,
    ad_id           = excluded.ad_id,
    updated_at      = now()
WHERE s.status NOT IN ('accepted', 'partial_failure')
   OR (s.test_event_code IS NOT NULL AND excluded.test_event_code IS DISTINCT FROM s.test_event_code);
