"""`reachwatch backtest --report`: the comparison as one self-contained HTML page.

Everything the page shows is inside the file (charts are inline SVG, the style sheet is inline,
there is no script), so it opens offline and can be mailed around. Every piece of text from the
input goes through `text()`: HTML-escaped, and phone numbers and e-mail addresses masked, because
borrower ids, contact points and alert reasons are whatever the event producers sent.
"""

from __future__ import annotations

import html
import re
from typing import Any

from streams.core.engine.alert import Alert, format_time
from streams.tools import backtest_charts as charts
from streams.tools.backtest import ConfigResult, Label, hours, percent

MAX_ALERTS_PER_CELL = 8

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_PHONE = re.compile(r"(?<![\w.])(\+?\d{5})\d{0,6}(\d{4})(?![\w.])")


def mask(value: str) -> str:
    """+8613812348000 -> +86138****8000, jane.doe@example.com -> j***@example.com."""
    return _PHONE.sub(r"\1****\2", _EMAIL.sub(r"\1***@\2", value))


def text(value: object) -> str:
    return html.escape(mask(str(value)), quote=True)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 110rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrong { background: #fde2e1; } td.right { background: #e7f5e4; }
ul.alerts { margin: 0; padding-left: 1rem; } .muted { color: #666; }
svg { max-width: 100%; height: auto; display: block; }
"""


def letter(index: int) -> str:
    return chr(65 + index)


def row(cells: list[str], *, header: bool = False, classes: list[str] | None = None) -> str:
    """One table row; `cells` are already HTML (escaped by the caller)."""
    tag = "th" if header else "td"
    classes = classes or [""] * len(cells)
    parts = (
        f'<{tag} class="{cls}">{cell}</{tag}>' if cls else f"<{tag}>{cell}</{tag}>"
        for cell, cls in zip(cells, classes, strict=True)
    )
    return f"<tr>{''.join(parts)}</tr>"


def table(rows: list[str]) -> str:
    return f"<table>{''.join(rows)}</table>"


def config_table(results: list[ConfigResult], doc: dict[str, Any]) -> str:
    head = row(
        ["", *(f"{letter(i)}: {text(r.config)}" for i, r in enumerate(results))], header=True
    )
    rows = [head, row(["config_version", *(text(c["config_version"]) for c in doc["configs"])])]
    nums = ["", *(["num"] * len(results))]
    for key in ("events", "invalid", "late", "duplicates", "borrowers_alerted"):
        cells = [key.replace("_", " "), *(f"{c[key]:,}" for c in doc["configs"])]
        rows.append(row(cells, classes=nums))
    return table(rows)


def profile_order(labels: dict[str, Label]) -> list[str]:
    """Profiles that become unreachable first (their rate is recall), then the others."""
    unreachable = {label.profile for label in labels.values() if label.unreachable}
    return sorted(
        {label.profile for label in labels.values()}, key=lambda p: (p not in unreachable, p)
    )


def scores_table(results: list[ConfigResult], doc: dict[str, Any], profiles: list[str]) -> str:
    configs = doc["configs"]
    head = row(
        ["", *(f"{letter(i)}: {text(r.config)}" for i, r in enumerate(results))], header=True
    )
    nums = ["", *(["num"] * len(results))]
    rows = [head]
    for key, show in (("precision", percent), ("recall", percent)):
        cells = [f"<b>{key}</b>", *(f"<b>{show(c['scores']['overall'][key])}</b>" for c in configs)]
        rows.append(row(cells, classes=nums))
    ttd = [hours(c["scores"]["overall"]["median_hours_to_detect"]) for c in configs]
    rows.append(row(["median time to detect", *ttd], classes=nums))
    rows.append(row(["detected / borrowers, per profile", *("" for _ in configs)], header=True))
    for profile in profiles:
        cells = [text(profile)]
        for c in configs:
            s = c["scores"]["profiles"][profile]
            cells.append(f"{s['detected']:,} / {s['borrowers']:,} ({percent(s['detection_rate'])})")
        rows.append(row(cells, classes=nums))
    return table(rows)


def alert_item(alert: Alert) -> str:
    return (
        f"<li>{text(format_time(alert.event_time_ms))} <b>{text(alert.rule)}</b> "
        f"{text(alert.state)} {text(alert.severity)}: {text(alert.reason)}</li>"
    )


def alert_cell(alerts: list[Alert]) -> str:
    if not alerts:
        return '<span class="muted">no alerts</span>'
    shown = "".join(alert_item(a) for a in alerts[:MAX_ALERTS_PER_CELL])
    more = len(alerts) - MAX_ALERTS_PER_CELL
    extra = f'<li class="muted">… {more} more</li>' if more > 0 else ""
    return f'<ul class="alerts">{shown}{extra}</ul>'


def disagreements(results: list[ConfigResult], labels: dict[str, Label]) -> tuple[int, str]:
    """Borrowers detected by some configs and not others, with each config's alerts; a cell is
    green where the config got the label right, red where it did not."""
    sets = [set(r.first_detection_ms) for r in results]
    borrowers = sorted(set[str]().union(*sets) - sets[0].intersection(*sets[1:]))
    if not borrowers:
        return 0, "<p>The configs detect exactly the same borrowers.</p>"
    head = ["borrower", "profile", "unreachable", *(f"{letter(i)}" for i in range(len(results)))]
    rows = [row(head, header=True)]
    for borrower in borrowers:
        label = labels.get(borrower)
        cells = [
            text(borrower),
            text(label.profile) if label else "-",
            ("yes" if label.unreachable else "no") if label else "-",
        ]
        classes = ["", "", ""]
        for r in results:
            detected = borrower in r.first_detection_ms
            verdict = "detected" if detected else "not detected"
            cells.append(f"<b>{verdict}</b><br>{alert_cell(r.by_borrower.get(borrower, []))}")
            right = label is not None and detected == label.unreachable
            classes.append("right" if right else "wrong")
        rows.append(row(cells, classes=classes))
    return len(borrowers), table(rows)


def render(
    events_path: str,
    results: list[ConfigResult],
    doc: dict[str, Any],
    labels: dict[str, Label] | None,
) -> str:
    """The whole page. Results must come from `run_backtest(..., keep_alerts=True)`."""
    names = [f"{letter(i)}: {mask(r.config)}" for i, r in enumerate(results)]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>reachwatch backtest: {text(events_path)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>reachwatch backtest of {text(events_path)}</h1>",
        f"<p>{text(doc['detection'])} (compliance alerts are not detections).</p>",
        "<h2>Configs</h2>",
        config_table(results, doc),
    ]
    if labels:
        profiles = profile_order(labels)
        rates = [
            [c["scores"]["profiles"][p]["detection_rate"] or 0.0 for p in profiles]
            for c in doc["configs"]
        ]
        onset_profiles = [p for p in profiles if any(
            label.onset_ms is not None for label in labels.values() if label.profile == p
        )]  # fmt: skip
        count, listing = disagreements(results, labels)
        parts += [
            "<h2>Precision and recall</h2>",
            "<p>Recall: detected unreachable borrowers over all unreachable ones. Precision: "
            "detected unreachable over all detected. Per profile: the share detected (for "
            "profiles that never become unreachable, every detection is a false alarm).</p>",
            scores_table(results, doc, profiles),
            charts.detection_rates(names, profiles, rates),
            "<h2>Time to detect per simulated profile</h2>",
            "<p>Share of each profile detected within x hours of the simulated onset.</p>",
            charts.time_to_detect(
                names, onset_profiles, [r.hours_to_detect(labels) for r in results]
            ),
        ]
    parts += [
        "<h2>Alerts per day by rule</h2>",
        charts.alerts_per_day(names, [r.firing_per_day for r in results]),
    ]
    if labels:
        parts += [
            f"<h2>Borrowers on which the configs disagree ({count:,})</h2>",
            "<p>Detected (any raised unreachability alert) by some configs and not by others; "
            f"each cell lists that config's alerts for the borrower (at most "
            f"{MAX_ALERTS_PER_CELL}).</p>",
            listing,
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
