"""A run's summary as text a person reads in a log or a terminal."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

STATUSES = ("accepted", "partial_failure", "failed", "skipped")


def outcome_table(counts: Iterable[Sequence]) -> list[str]:
    """(pixel, event, status, n) counts as a table: a row per pixel and event, a column per status."""
    rows = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    for pixel, event, status, n in counts:
        rows[(pixel, event)][status] += n
    header = f"{'pixel':<18} {'event':<18} " + " ".join(f"{s:>15}" for s in STATUSES)
    lines = [header, "-" * len(header)]
    totals = dict.fromkeys(STATUSES, 0)
    for (pixel, event), by_status in sorted(rows.items()):
        lines.append(f"{pixel:<18} {event:<18} " + " ".join(f"{by_status[s]:>15}" for s in STATUSES))
        for s in STATUSES:
            totals[s] += by_status[s]
    lines.append("-" * len(header))
    lines.append(f"{'total':<18} {'':<18} " + " ".join(f"{totals[s]:>15}" for s in STATUSES))
    return lines


def format_group_summary(label: str, summary: dict, validations: Iterable[dict] = ()) -> str:
    """A sync task's outcome: its table, what kept events back, and the validation rules rows failed."""
    lines = [f"{label}: {summary.get('requests', 0)} request(s), {summary.get('failed', 0)} failed event(s)",
             *outcome_table(_counts(summary))]  # fmt: skip
    reasons = summary.get("top_reasons") or []
    if reasons:
        lines += ["", "top reasons (not accepted):", *(f"  {r['n']:>7}  {r['reason']}" for r in reasons)]
    for validation in validations:
        failing = [e for e in validation.get("expectations", []) if not e.get("success")]
        lines += ["", f"validation: {validation.get('failed_rows', 0)} of {validation.get('rows', 0)} row(s) "
                  f"failed a rule" + (":" if failing else "")]  # fmt: skip
        lines += [f"  {e['unexpected_count']:>7} of {e['checked_rows']:<7} {e['rule']}: {e['description']}"
                  for e in failing]  # fmt: skip
    if summary.get("leased_elsewhere"):
        lines += ["", "left to another run holding their lease: workspace(s) "
                  + ", ".join(map(str, summary["leased_elsewhere"]))]  # fmt: skip
    return "\n".join(lines)


def _counts(summary: dict) -> Iterable[tuple]:
    """(pixel, event, status, n) of a summary's outcomes (outcome_counts.OutcomeCounts.to_dict's shape)."""
    return ((o["pixel_id"], o["event_name"], o["status"], o["n"]) for o in summary.get("outcomes") or [])


def format_summary(summary: dict) -> str:
    lines = [
        f"window {summary.get('window_start')} .. {summary.get('window_end')} ({summary.get('mode')}"
        + (", dry run" if summary.get("dry_run") else "")
        + ")",
        *outcome_table(_counts(summary)),
    ]
    would_send = summary.get("would_send") or []
    if would_send:
        lines.append("")
        lines.append("would send (dry run):")
        for w in would_send:
            lines.append(f"  {w['n']:>7}  {w['pixel_id']:<18} {w['event_name']:<18} {w['action_source']}")
    reasons = summary.get("top_reasons") or []
    if reasons:
        lines.append("")
        lines.append("top reasons (not accepted):")
        lines += [f"  {r['n']:>7}  {r['status']:<15} {r['reason']}" for r in reasons]
    if summary.get("orphan_changes"):
        lines.append("")
        orphans = summary["orphan_changes"]
        lines.append(f"{orphans} status change(s) whose lead no longer exists were not sent")
    if summary.get("leased_elsewhere"):
        lines.append("")
        lines.append(
            "left to another run holding their lease: workspace(s) "
            + ", ".join(map(str, summary["leased_elsewhere"]))
        )
    keys = ("pairs", "recorded", "failed", "requests", "duration_s")
    extra = [f"{k}={summary[k]}" for k in keys if k in summary]
    if extra:
        lines.append("")
        lines.append("  ".join(extra))
    return "\n".join(lines)
