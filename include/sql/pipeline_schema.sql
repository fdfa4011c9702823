-- The pipeline's own tables. Idempotent: safe to run before every sync.

-- One outcome per (status change, pixel). Holds ids, statuses and reasons only: never PII, never tokens.
CREATE TABLE IF NOT EXISTS sync_logs (
    status_change_id bigint      NOT NULL,
    pixel_id         text        NOT NULL,
    lead_id          bigint      NOT NULL,
    workspace_id     bigint      NOT NULL,
    waba_id          text,
    event_name       text,
    event_id         text        NOT NULL,
    action_source    text,
    event_time       timestamptz NOT NULL,
    status           text        NOT NULL CHECK (status IN ('accepted', 'partial_failure', 'failed', 'skipped')),
    reason           text,
    error_code       integer,
    error_subcode    integer,
    fbtrace_id       text,
    attempts         integer     NOT NULL DEFAULT 0,
    run_id           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (status_change_id, pixel_id),
    CHECK (status = 'accepted' OR reason IS NOT NULL)
);
-- What an operator looks for is what did not go through, per pixel: index those rows only. Accepted rows
-- are most of the table, and keeping them out keeps every batch's COPY cheap. (Replaces an index on
-- every row's (status, pixel_id), which no query of ours used.)
-- It also finds, per pixel, the `failed` pairs an hourly run retries (owed_pairs.sql).
DROP INDEX IF EXISTS sync_logs_status;
CREATE INDEX IF NOT EXISTS sync_logs_not_accepted ON sync_logs (pixel_id, status) WHERE status <> 'accepted';

-- Events sent with a test code (Meta's Test Events tab) are not final: once the pixel's code is removed
-- (or the run sends with another), the next hourly run sends them live. Added to existing deployments
-- here; the guard keeps ALTER TABLE's exclusive lock out of every later sync's start (it would queue
-- behind a running extract). Test sends are few: a small index finds a pixel's recent ones.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = 'sync_logs'::regclass AND attname = 'test_event_code' AND NOT attisdropped)
    THEN
        ALTER TABLE sync_logs ADD COLUMN IF NOT EXISTS test_event_code text;
    END IF;
    IF to_regclass('sync_logs_test_events') IS NULL THEN
        CREATE INDEX IF NOT EXISTS sync_logs_test_events ON sync_logs (pixel_id, event_time)
            WHERE test_event_code IS NOT NULL;
    END IF;
END
$$;

-- The health page (Airflow UI > Meta CAPI health) reads the last days' outcomes: counts per pixel, hour and
-- status (an index-only scan: pixel_id included), and the reasons of those not accepted. Event time
-- leads: rows are written in about that order, so the planner knows a time range is a compact stretch of
-- the table (status first gave an index twice the size, and plans that read the whole table).
-- What did not go through is read from a partial index holding everything the page shows of those rows
-- (a range of it, index-only): their reasons are spread over the whole range of the table otherwise.
-- The statistics give the planner the number of (pixel, hour, status) groups: without them it expects
-- one per row and sorts millions of rows instead of hashing a few thousand groups (10M rows: 5 s -> 0.6 s).
-- Guarded like the block above: later syncs take no lock on the table for them. An existing table gets
-- them at its first sync after the upgrade (a plain CREATE INDEX: writes wait for it).
DO $$
BEGIN
    IF to_regclass('sync_logs_time_status') IS NULL THEN
        CREATE INDEX IF NOT EXISTS sync_logs_time_status ON sync_logs (event_time, status) INCLUDE (pixel_id);
    END IF;
    IF to_regclass('sync_logs_not_accepted_time') IS NULL THEN
        CREATE INDEX IF NOT EXISTS sync_logs_not_accepted_time ON sync_logs (event_time)
            INCLUDE (status, pixel_id, reason, error_code, error_subcode, status_change_id, workspace_id, updated_at)
            WHERE status <> 'accepted';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_statistic_ext WHERE stxname = 'sync_logs_health_hour') THEN
        CREATE STATISTICS IF NOT EXISTS sync_logs_health_hour (ndistinct)
            ON pixel_id, status, (date_bin('1 hour', event_time, timestamptz '2000-01-01 00:00:00+00'))
            FROM sync_logs;
    END IF;
END
$$;

-- Columns added since: text, NULL where unknown. `note`: what changed in how an event went out (a
-- Click-to-WhatsApp lead without a WABA sent as a CRM event); `match_keys`: the customer information keys
-- the event carried (`em,ph,fbc,client_ip_address`, names only, never values); `campaign_id`, `adset_id`,
-- `ad_id`: the Meta ad of the lead's landing URL (ids, not PII). Same guard as above: an existing column
-- costs a catalogue read, never a lock.
DO $$
DECLARE
    col text;
BEGIN
    FOREACH col IN ARRAY ARRAY['note', 'match_keys', 'campaign_id', 'adset_id', 'ad_id'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = 'sync_logs'::regclass AND attname = col AND NOT attisdropped)
        THEN
            EXECUTE 'ALTER TABLE sync_logs ADD COLUMN IF NOT EXISTS ' || quote_ident(col) || ' text';
        END IF;
    END LOOP;
END
$$;

-- Where the hourly schedule has got to. Backfills never touch it.
CREATE TABLE IF NOT EXISTS sync_watermark (
    name       text        PRIMARY KEY,
    watermark  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per sync run: its window is fixed on the first attempt so that a rerun redoes exactly the
-- same work, and its summary is queryable by analysts.
CREATE TABLE IF NOT EXISTS sync_runs (
    run_id       text        PRIMARY KEY,
    mode         text        NOT NULL CHECK (mode IN ('hourly', 'backfill')),
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    pixel_ids    text[],
    dry_run      boolean     NOT NULL DEFAULT false,
    test_event_code text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    summary      jsonb
);

-- What each (pixel, WABA) group of a run did: requests, counts, and for a dry run what it would send.
CREATE TABLE IF NOT EXISTS sync_run_groups (
    run_id     text        NOT NULL,
    group_key  text        NOT NULL,
    result     jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, group_key)
);
