"""`make bench-ablate`: does each choice of the sync's concurrency design (konektor_capi/concurrency.py)
pay? The same run with the default design, then with each other choice (concurrency.VARIANTS) in turn.

Each variant runs in a fresh Python process (Great Expectations' import and set-up are cold every time,
as in a task) against the same seeded database, its outputs emptied before each run, and the variants
take turns (`--repeats` rounds), so a slow minute of the machine does not land on one variant only.
Reported per variant: the median wall time of plan, sync and finish, and the median CPU seconds of
our processes (the run's process and its delivery child; not PostgreSQL, not the emulator), and the
peak resident memory of the run's process plus its delivery child's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from devtools import embedded_pg
from devtools.bench import EMULATOR_ARGS, exclusive, reset_outputs, seed_dataset
from devtools.bench_stages import run_staged
from devtools.graph_emulator.process import EmulatorAdmin, start_emulator
from konektor_capi.concurrency import DEFAULT_CONCURRENCY, VARIANTS
from konektor_capi.db import make_engine
from konektor_capi.graph_client import GraphApiClient, GraphApiConfig

DB_NAME = "konektor_bench_ablate"
ROOT = Path(__file__).resolve().parent.parent
ALL_ON = "default"


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the delivery child, once joined
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_variant(db_uri: str, base_url: str, variant: str | None) -> dict:
    """One run in this process with VARIANTS[variant] (None: the default); what the parent reads back."""
    concurrency = VARIANTS[variant] if variant else DEFAULT_CONCURRENCY
    engine = make_engine(embedded_pg.sqlalchemy_url(db_uri))
    client = GraphApiClient(GraphApiConfig(base_url=base_url, api_version="v25.0"))
    cpu = _cpu_seconds()
    try:
        staged = run_staged(engine, client, concurrency=concurrency)
    finally:
        client.close()
        engine.dispose()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child: delivery's
    return {"seconds": staged.wall_seconds, "cpu_seconds": _cpu_seconds() - cpu,
            "peak_rss_mib": round((own + child) / 1024), "recorded": staged.summary["recorded"],
            "pairs": staged.summary["pairs"]}  # fmt: skip


def _spawn(db_uri: str, base_url: str, variant: str | None) -> dict:
    args = [sys.executable, "-m", "devtools.bench_ablate", "--variant", variant or "", "--db-uri", db_uri,
            "--base-url", base_url]  # fmt: skip
    # The child imports this checkout's code, wherever it is started from.
    path = os.pathsep.join([str(ROOT / "plugins"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(args, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": path})  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def ablate(
    n_events: int,
    repeats: int,
    variants: list[str],
    latency_ms: int,
    *,
    server_uri: str | None = None,
    dbname: str = DB_NAME,
    log=print,
) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {ALL_ON: [], **{t: [] for t in variants}}
    with exclusive(dbname, log):
        server_uri = server_uri or embedded_pg.start()
        log(f"[ablate] seeding ~{n_events:,} mapped status changes (not timed) ...")
        data = seed_dataset(server_uri, n_events, dbname)
        round_trip = ("--round-trip-ms", str(latency_ms))
        with start_emulator(extra_args=(*EMULATOR_ARGS, *round_trip)) as emulator:
            admin = EmulatorAdmin(emulator.base_url)
            for round_no in range(1, repeats + 1):
                for variant in [None, *variants]:
                    reset_outputs(data.db_uri)
                    admin.reset()
                    started = time.perf_counter()
                    figures = _spawn(data.db_uri, emulator.base_url, variant)
                    if figures["recorded"] != figures["pairs"]:
                        missing = figures["pairs"] - figures["recorded"]
                        raise RuntimeError(f"{variant or ALL_ON}: {missing} pairs not recorded")
                    runs[variant or ALL_ON].append(figures)
                    log(f"[ablate] round {round_no}, {variant or ALL_ON}: {figures['seconds']:.1f}s, "
                        f"our CPU {figures['cpu_seconds']:.1f}s ({time.perf_counter() - started:.0f}s with "
                        "start-up)")  # fmt: skip
    return runs


def format_table(runs: dict[str, list[dict]]) -> str:
    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    base, base_cpu = median(ALL_ON, "seconds"), median(ALL_ON, "cpu_seconds")
    lines = [f"{'design':<16} {'wall s (median)':>16} {'vs default':>11} {'our CPU s':>10} {'vs default':>11}"
             f" {'peak RSS MiB':>13}"]  # fmt: skip
    for name in runs:
        wall, cpu = median(name, "seconds"), median(name, "cpu_seconds")
        rss = median(name, "peak_rss_mib")
        lines.append(f"{name:<16} {wall:>16.1f} {wall / base - 1:>+11.1%} {cpu:>10.1f}"
                     f" {cpu / base_cpu - 1:>+11.1%} {rss:>13.0f}")  # fmt: skip
    spread = [f"{name}: " + ", ".join(f"{r['seconds']:.1f}" for r in runs[name]) for name in runs]
    return "\n".join([*lines, "", "each run (wall s):", *(f"  {s}" for s in spread)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=lambda s: int(float(s.replace("_", ""))),
                        default=int(os.environ.get("BENCH_EVENTS") or 1_000_000))  # fmt: skip
    parser.add_argument("--repeats", type=int, default=2, help="rounds of every variant (default 2)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated, of {', '.join(VARIANTS)}")  # fmt: skip
    parser.add_argument("--latency-ms", type=int, default=0, help="the emulator's round trip")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write every run's figures")
    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)  # a child: one run
    parser.add_argument("--db-uri", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant is not None:
        print(json.dumps(run_variant(args.db_uri, args.base_url, args.variant or None)))
        return 0
    variants = [t for t in args.variants.split(",") if t]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(sorted(unknown))}; known: {', '.join(VARIANTS)}")
    runs = ablate(args.events, args.repeats, variants, args.latency_ms)
    print(f"\n== each concurrency choice against the default, {args.events:,} changes, "
          f"{args.repeats} round(s), round trip {args.latency_ms} ms ==")  # fmt: skip
    print(format_table(runs))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
