"""The backtest report's charts, drawn with matplotlib straight to SVG text.

No pyplot (no global figure state, no GUI backend): each chart is a `Figure` saved as SVG with
text kept as text (searchable, small), no metadata block and a per-chart hash salt, so the same
input gives the same file and ids never collide between charts on one page.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence

import matplotlib as mpl
from matplotlib.figure import Figure

mpl.rcParams["svg.fonttype"] = "none"

# No RDF block (creator, date, type): nothing in the page but the chart itself.
NO_METADATA: dict[str, None] = {"Date": None, "Type": None, "Format": None, "Creator": None}
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def svg(figure: Figure, salt: str) -> str:
    """The figure as an inline `<svg>` element (the XML prolog and DOCTYPE dropped)."""
    buffer = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata=NO_METADATA, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def alerts_per_day(names: Sequence[str], per_day: Sequence[Counter[tuple[str, str]]]) -> str:
    """One panel per config, side by side on a shared y axis: firing alerts per UTC day, stacked
    by rule."""
    days = sorted({day for counts in per_day for day, _ in counts})
    rules = sorted({rule for counts in per_day for _, rule in counts})
    figure = Figure(figsize=(4.2 * len(names) + 1.8, 3.6), layout="constrained")
    axes = figure.subplots(1, len(names), sharey=True, squeeze=False)[0]
    positions = range(len(days))
    for ax, name, counts in zip(axes, names, per_day, strict=True):
        bottom = [0] * len(days)
        for r, rule in enumerate(rules):
            heights = [counts[day, rule] for day in days]
            ax.bar(positions, heights, bottom=bottom, color=colour(r), width=0.85, label=rule)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_title(name, fontsize=10)
        step = max(1, len(days) // 6)
        ax.set_xticks(list(positions)[::step], [day[5:] for day in days][::step], fontsize=8)
        ax.set_xlabel("UTC day (month-day)", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("alerts raised or escalated")
    if rules:
        axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    return svg(figure, "alerts-per-day")


def detection_rates(
    names: Sequence[str], profiles: Sequence[str], rates: Sequence[Sequence[float]]
) -> str:
    """Share of each profile's borrowers detected, one bar per config."""
    figure = Figure(figsize=(8.5, 3.4), layout="constrained")
    ax = figure.subplots()
    width = 0.8 / max(1, len(names))
    for c, (name, values) in enumerate(zip(names, rates, strict=True)):
        xs = [p + (c - (len(names) - 1) / 2) * width for p in range(len(profiles))]
        bars = ax.bar(xs, [100 * v for v in values], width=width, color=colour(c), label=name)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax.set_xticks(range(len(profiles)), profiles, fontsize=8, rotation=15)
    ax.set_ylabel("% of profile detected")
    ax.set_ylim(0, 112)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return svg(figure, "detection-rates")


def time_to_detect(
    names: Sequence[str],
    profiles: Sequence[str],
    delays: Sequence[dict[str, list[float | None]]],
) -> str:
    """Per profile with an onset: the share of its borrowers detected within x hours of the
    onset, one step curve per config (a curve that ends below 100 % missed the rest)."""
    figure = Figure(figsize=(4.0 * max(1, len(profiles)), 3.4), layout="constrained")
    axes = figure.subplots(1, max(1, len(profiles)), sharey=True, squeeze=False)[0]
    for ax, profile in zip(axes, profiles, strict=False):
        for c, (name, per_profile) in enumerate(zip(names, delays, strict=True)):
            values = per_profile.get(profile, [])
            found = sorted(d for d in values if d is not None)
            if not values:
                continue
            xs = [0.0, *found]
            ys = [0.0, *(100 * (i + 1) / len(values) for i in range(len(found)))]
            ax.step(xs, ys, where="post", color=colour(c), label=name)
        ax.set_title(profile, fontsize=10)
        ax.set_xlabel("hours from onset", fontsize=8)
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("% detected by then")
    axes[-1].legend(fontsize=8, loc="lower right")
    return svg(figure, "time-to-detect")
