"""The pipeline's tuning knobs, in one place: sizes and waits that trade memory, latency or safety for
speed. Meta's limits (1000 events a request, 7 days) are rules, not knobs, and live with their rules.
What each knob bought, measured, is in docs/performance.md.
"""

from __future__ import annotations

# Sync tasks a run maps at most: workspaces are packed into this many groups of about even size.
MAX_GROUPS = 16
# Changes per page: memory holds about one page (its events for every pixel, encoded), and each page
# pays Great Expectations' fixed cost per validation.
PAGE_SIZE = 25_000
# From this many unfinished pairs a group delivers from a child process (concurrency.py): below it the
# child's start-up is not repaid.
PROCESS_MIN_PAIRS = 20_000
# Prepared work items queued for delivery: about a page's batches.
QUEUE_DEPTH = 50
# CSV held between PostgreSQL and the extract's parser: about four pages.
READ_AHEAD_BYTES = 32 << 20
# Up to this many unfinished pairs (an hourly window, usually) the planner may look changes up in
# sync_logs by its primary key; larger windows hash-join (see extract.planner_settings).
SMALL_WINDOW_PAIRS = 50_000
# psycopg2 reads a COPY source in chunks of this size (8 KiB by default), taking the GIL back for each.
COPY_CHUNK = 1 << 20
# Requests to Meta at once per sync task unless the meta_capi connection says otherwise.
DEFAULT_MAX_IN_FLIGHT = 8
# How long a group's sync waits for another run (an overlapping backfill, a cleared task) to release a
# workspace before leaving that workspace to it (the deployment may override it:
# KONEKTOR_LEASE_WAIT_SECONDS, read by the Airflow tasks).
LEASE_WAIT_SECONDS = 60.0
