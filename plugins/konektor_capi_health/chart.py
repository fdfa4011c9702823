"""The health page's stacked chart, drawn on the server as SVG by matplotlib (no script, nothing fetched)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from konektor_capi.report import STATUSES

COLORS = {"accepted": "#2e7d32", "partial_failure": "#f9a825", "failed": "#c62828", "skipped": "#9e9e9e"}
MAX_PIXELS = 8  # beyond that, one panel each would make a long page: the tables list them all


def hourly_svg(hourly: dict[str, dict[datetime, dict[str, int]]], since: datetime, until: datetime) -> str:
    """Outcomes per hour, stacked by status: all pixels together, then the busiest pixels one by one."""
    # The object-oriented API, not pyplot: no global figure state in a server answering requests in threads.
    from matplotlib import rc_context
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    hours = [since + timedelta(hours=i) for i in range(int((until - since).total_seconds() // 3600))]
    busiest = sorted(hourly, key=lambda p: -sum(sum(c.values()) for c in hourly[p].values()))[:MAX_PIXELS]
    panels = [("all pixels", _sum(hourly.values()))] + [(f"pixel {p}", hourly[p]) for p in busiest]
    # Text stays text in the SVG (smaller, searchable); the salt keeps the output the same for the same data.
    with rc_context({"svg.fonttype": "none", "font.family": "sans-serif", "svg.hashsalt": "konektor"}):
        # Margins set by hand, in inches: constrained layout took half the drawing time.
        height = 0.9 + 1.35 * len(panels)
        fig = Figure(figsize=(11, height))
        fig.subplots_adjust(left=0.07, right=0.99, top=1 - 0.45 / height, bottom=0.5 / height, hspace=0.45)
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        # One stepped area per status (fill_between's step): a polygon, not 168 bars per status and panel.
        edges = [*hours, until]
        for ax, (title, counts) in zip(axes, panels, strict=True):
            series = [[counts.get(h, {}).get(s, 0) for h in hours] for s in STATUSES]
            ax.stackplot(edges, *[[*values, values[-1] if values else 0] for values in series], step="post",
                         colors=[COLORS[s] for s in STATUSES], labels=[s.replace("_", " ") for s in STATUSES],
                         linewidth=0)  # fmt: skip
            ax.set_title(title, loc="left", fontsize=9)
            ax.set_ylabel("events", fontsize=8)
            ax.tick_params(labelsize=8)
            ax.spines[["top", "right"]].set_visible(False)
            ax.set_xlim(since, until)
        locator = AutoDateLocator()
        axes[-1].xaxis.set_major_locator(locator)
        axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
        fig.legend(*axes[0].get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(0.06, 1), ncols=4,
                   fontsize=8, frameon=False)  # fmt: skip
        axes[-1].set_xlabel("hour of the conversion (UTC)", fontsize=8)
        out = io.StringIO()
        fig.savefig(out, format="svg")
    return out.getvalue()


def _sum(pixels) -> dict[datetime, dict[str, int]]:
    total: dict[datetime, dict[str, int]] = {}
    for hours in pixels:
        for hour, counts in hours.items():
            slot = total.setdefault(hour, {})
            for status, n in counts.items():
                slot[status] = slot.get(status, 0) + n
    return total
