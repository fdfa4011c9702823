CREATE TEMPORARY TABLE IF NOT EXISTS sync_logs_staging (
    status_change_id bigint, pixel_id text, lead_id bigint, workspace_id bigint, waba_id text,
    event_name text, event_id text, action_source text, event_time timestamptz, status text,
    reason text, error_code integer, error_subcode integer, fbtrace_id text, attempts integer,
    run_id text, test_event_code text, note text, match_keys text, campaign_id text, adset_id text, ad_id text
) ON COMMIT DELETE ROWS
