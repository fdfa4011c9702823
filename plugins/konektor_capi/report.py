"""A run's summary as text a person reads in a log or a terminal."""

from __future__ import annotations

from collections import defaultdict

STATUSES = ("accepted", "partial_failure", "failed", "skipped")


def format_summary(summary: dict) -> str:
    rows = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    for item in summary.get("outcomes", []):
        rows[(item["pixel_id"], item["event_name"])][item["status"]] += item["n"]
    header = f"{'pixel':<18} {'event':<18} " + " ".join(f"{s:>15}" for s in STATUSES)
    lines = [
        f"window {summary.get('window_start')} .. {summary.get('window_end')} ({summary.get('mode')}"
        + (", dry run" if summary.get("dry_run") else "")
        + ")",
        header,
        "-" * len(header),
    ]
    totals = dict.fromkeys(STATUSES, 0)
    for (pixel, event), counts in sorted(rows.items()):
        lines.append(f"{pixel:<18} {event:<18} " + " ".join(f"{counts[s]:>15}" for s in STATUSES))
        for s in STATUSES:
            totals[s] += counts[s]
    lines.append("-" * len(header))
    lines.append(f"{'total':<18} {'':<18} " + " ".join(f"{totals[s]:>15}" for s in STATUSES))
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
