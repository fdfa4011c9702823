"""`konektor-capi`: the operator's commands (sync, backfill, check-pixels), shipped with the package."""
