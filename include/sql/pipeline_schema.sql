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
DROP INDEX IF EXISTS sync_logs_status;
CREATE INDEX IF NOT EXISTS sync_logs_not_accepted ON sync_logs (pixel_id, status) WHERE status <> 'accepted';

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
