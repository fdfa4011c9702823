"""The command line that starts the Airflow CLI for a foreground run, and that CLI's garbage-collector tuning.

`airflow dags test` is a short-lived process that imports a very large number of objects (Airflow, the
in-process Execution API, pandas): with CPython's default thresholds it spends seconds collecting, during
the run and again at interpreter shutdown. A larger first threshold (the same 10/10 ratios, so old objects
are still collected) and a heap frozen once Airflow's own exit handlers have run avoid most of that; the
measurement is in docs/performance.md. KONEKTOR_AIRFLOW_GC=default runs the plain `airflow` script.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

AIRFLOW_GC_THRESHOLDS = (10_000, 10, 10)


def airflow_bin() -> str:
    """The `airflow` script of this interpreter's environment (a venv), else the one on PATH (an image)."""
    beside = Path(sys.executable).with_name("airflow")
    return str(beside) if beside.exists() else shutil.which("airflow") or "airflow"


def airflow_cmd(*args: str) -> list[str]:
    """`airflow <args>`, started as `python -m konektor_capi_cli.airflow_process airflow <args>` (GC tuned)
    unless KONEKTOR_AIRFLOW_GC=default. The command line keeps "airflow dags test ...", which the
    benchmark looks for to spot concurrent runs."""
    if os.environ.get("KONEKTOR_AIRFLOW_GC", "tuned") == "default":
        return [airflow_bin(), *args]
    return [sys.executable, "-m", "konektor_capi_cli.airflow_process", "airflow", *args]


def run_airflow_cli(argv: list[str]) -> int:
    """`airflow <argv>` in this process (what the `airflow` console script does), GC tuned."""
    import atexit
    import gc

    gc.set_threshold(*AIRFLOW_GC_THRESHOLDS)
    # Registered before Airflow is imported, so it runs last: after Airflow's exit handlers (ORM dispose,
    # logging shutdown). Frozen objects are skipped by shutdown's collections; the OS frees the memory.
    atexit.register(gc.freeze)
    sys.argv = ["airflow", *argv]
    from airflow.__main__ import main

    return main() or 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["airflow"]:
        sys.exit("usage: python -m konektor_capi_cli.airflow_process airflow <airflow CLI arguments>")
    sys.exit(run_airflow_cli(sys.argv[2:]))
