"""Hourly sync of Konektor lead status changes to Meta's Conversions API.

Wiring only: every stage is a function of the `konektor_capi` core. No database or network at parse time.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

DEFAULT_ARGS = {
    "owner": "data-platform",
    # `make sync` runs the DAG in the foreground (airflow dags test), where a retry would wait out its
    # delay; it sets KONEKTOR_TASK_RETRIES=0 and leaves retrying to the next run.
    "retries": int(os.environ.get("KONEKTOR_TASK_RETRIES", "2")),
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


# What a finished run has updated: analysts schedule their own DAGs on it (`schedule=[SYNC_LOGS]`).
SYNC_LOGS = Asset(name="konektor_capi_sync_logs", uri="konektor-capi://konektor_db/sync_logs",
                  group="konektor")  # fmt: skip


@dag(
    dag_id="meta_capi_sync",
    description="Send Konektor lead status changes to Meta's Conversions API",
    # Data intervals, not trigger times: each run (and each run of `airflow backfill create`) covers the
    # hour before it. A bare "@hourly" is a CronTriggerTimetable in Airflow 3: zero-length intervals.
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["konektor", "meta-capi", "crm"],
    params={
        "start": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="Backfill: first changed_at (exclusive). Empty = hourly run.",
        ),
        "end": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="Backfill: last changed_at (inclusive).",
        ),
        "pixel_ids": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Only these pixels (empty = all enabled pixels).",
        ),
        "dry_run": Param(False, type="boolean", description="Send nothing, record nothing; report."),
        "test_event_code": Param(
            None, type=["null", "string"], description="Route events to Events Manager's Test Events tab."
        ),
    },  # fmt: skip
)
def meta_capi_sync():
    @task
    def open_run() -> dict:
        from konektor_capi_airflow.tasks import open_run_task

        return open_run_task(get_current_context())

    @task
    def plan(run: dict) -> list[dict]:
        from konektor_capi_airflow.tasks import plan_task

        return plan_task(run)

    @task(map_index_template="{{ group_label }}", max_active_tis_per_dagrun=4)
    def sync(group: dict, run: dict) -> dict:
        from konektor_capi_airflow.tasks import sync_group_task

        context = get_current_context()
        context["group_label"] = group["label"]
        return sync_group_task(run, group)

    @task(trigger_rule="all_done", outlets=[SYNC_LOGS])
    def finish(run: dict) -> dict:
        from konektor_capi_airflow.tasks import finish_run_task

        return finish_run_task(run)

    run = open_run()
    synced = sync.partial(run=run).expand(group=plan(run))
    synced >> finish(run)


meta_capi_sync()
