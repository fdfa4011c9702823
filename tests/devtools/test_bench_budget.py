"""The benchmark's reading of the 30-second target: what it leaves for the sync, from measured figures."""

from __future__ import annotations

import pytest

from devtools import bench

pytestmark = pytest.mark.unit


def _result(mapped: int, timeline: dict, cpu: dict) -> bench.BenchResult:
    data = bench.Dataset("postgresql://x", 1, mapped, mapped, 2 * mapped, 0.1, 0.07, 0.07, 1.0)
    return bench.BenchResult(mapped, data, airflow={"timeline": timeline}, inprocess={"cpu_seconds": cpu})


TIMELINE = {"startup": 2.5, "task_open_run": 3.5, "task_plan": 0.8, "task_sync": 40.0, "task_finish": 3.0,
            "between_tasks": 0.4, "teardown": 0.6}  # fmt: skip
CPU = {"ours": 40.0, "postgres": 17.0, "emulator": 8.0, "machine": 70.0}


def test_the_budget_is_the_target_less_airflows_own_time_on_every_core():
    budget = bench.target_budget(_result(1_000_000, TIMELINE, CPU), cores=2)

    assert budget["target_seconds"] == pytest.approx(30.0)
    assert budget["airflow_own_seconds"] == pytest.approx(7.0)  # not plan, sync or finish
    assert budget["budget_cpu_seconds"] == pytest.approx(46.0)
    assert budget["floor_seconds"] == pytest.approx(7.0 + 35.0)
    assert budget["cut_cpu_seconds"] == pytest.approx(24.0)
    assert budget["others_cpu_seconds"] == pytest.approx(25.0)
    assert any("24.0 CPU-s less, 60% of ours" in line for line in bench.format_budget(budget))


def test_a_run_within_budget_needs_no_cut_and_smaller_runs_get_a_pro_rata_target():
    budget = bench.target_budget(_result(100_000, TIMELINE, {**CPU, "machine": 3.0}), cores=4)

    assert budget["target_seconds"] == pytest.approx(3.0)
    assert budget["budget_cpu_seconds"] == 0  # Airflow's own time alone is over 3 s
    assert budget["cut_cpu_seconds"] == pytest.approx(3.0)

    roomy = bench.target_budget(_result(1_000_000, TIMELINE, {**CPU, "machine": 40.0}), cores=2)
    assert roomy["cut_cpu_seconds"] == 0
    assert not any("less" in line for line in bench.format_budget(roomy))


def test_no_budget_without_both_runs():
    result = _result(1_000_000, TIMELINE, CPU)
    result.inprocess = None
    assert bench.target_budget(result) is None
    assert bench.target_budget(_result(1_000_000, {}, CPU)) is None
