"""`reachwatch backtest`: several rule configs over the same events, side by side.

Each config is replayed (`streams.tools.replay`) over the same event file; the alerts are tallied
per rule and severity, and, given the simulator's labels, scored per profile. A borrower counts as
*detected* when it got at least one `raised` alert of category `unreachability` (compliance alerts
are not detections); precision and recall compare that against the label's `unreachable`. Time to
detect runs from the label's onset to the first such alert at or after it."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from streams.cli_options import all_settings_or_exit
from streams.core.config import HOUR_MS, EngineConfig
from streams.core.engine.alert import UNREACHABILITY, Alert
from streams.tools.replay import EventFileError, ReplayCounts, replay_records

FIRING_STATES = ("raised", "escalated")


@dataclass(frozen=True, slots=True)
class Label:
    borrower_id: str
    profile: str
    unreachable: bool
    onset_ms: int | None


@dataclass(slots=True)
class ConfigResult:
    """One config's alerts over the event file, reduced to what the comparison shows."""

    config: str
    config_version: str
    counts: ReplayCounts = field(default_factory=ReplayCounts)
    alerts: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # rule, severity, state
    first_detection_ms: dict[str, list[int]] = field(default_factory=dict)  # raised, per borrower
    firing_per_day: Counter[tuple[str, str]] = field(default_factory=Counter)  # UTC day, rule
    keep_alerts: bool = False  # the HTML report lists alerts per borrower; the table does not
    by_borrower: dict[str, list[Alert]] = field(default_factory=dict)

    def add(self, alert: Alert) -> None:
        self.alerts[alert.rule, alert.severity, alert.state] += 1
        if alert.category == UNREACHABILITY and alert.state == "raised":
            self.first_detection_ms.setdefault(alert.borrower_id, []).append(alert.event_time_ms)
        if alert.state in FIRING_STATES:
            self.firing_per_day[utc_day(alert.event_time_ms), alert.rule] += 1
        if self.keep_alerts:
            self.by_borrower.setdefault(alert.borrower_id, []).append(alert)

    def firing(self) -> Counter[tuple[str, str]]:
        """Alerts that go out as raised or escalated, per (rule, severity)."""
        firing: Counter[tuple[str, str]] = Counter()
        for (rule, severity, state), n in self.alerts.items():
            if state in FIRING_STATES:
                firing[rule, severity] += n
        return firing

    def scores(self, labels: dict[str, Label]) -> dict[str, Any]:
        """Precision, recall and time to detect, overall and per profile."""
        profiles: dict[str, dict[str, Any]] = {}
        for profile in sorted({label.profile for label in labels.values()}):
            members = [label for label in labels.values() if label.profile == profile]
            profiles[profile] = self._group_scores(members)
        detected = {b for b in self.first_detection_ms if b in labels}
        positives = {b for b, label in labels.items() if label.unreachable}
        true_positives = len(detected & positives)
        overall = self._group_scores(list(labels.values()))
        overall["precision"] = true_positives / len(detected) if detected else None
        overall["recall"] = true_positives / len(positives) if positives else None
        overall["median_hours_to_detect"] = self._group_scores([labels[b] for b in positives])[
            "median_hours_to_detect"
        ]
        return {"overall": overall, "profiles": profiles}

    def _group_scores(self, members: list[Label]) -> dict[str, Any]:
        detected = [m for m in members if m.borrower_id in self.first_detection_ms]
        delays = [self._hours_to_detect(m) for m in detected]
        delays_h = [d for d in delays if d is not None]
        return {
            "borrowers": len(members),
            "detected": len(detected),
            "detection_rate": len(detected) / len(members) if members else None,
            "median_hours_to_detect": round(statistics.median(delays_h), 2) if delays_h else None,
        }

    def hours_to_detect(self, labels: dict[str, Label]) -> dict[str, list[float | None]]:
        """Per profile with an onset: each borrower's onset-to-detection delay (None: missed)."""
        delays: dict[str, list[float | None]] = {}
        for label in sorted(labels.values(), key=lambda label: label.borrower_id):
            if label.onset_ms is not None:
                detected = label.borrower_id in self.first_detection_ms
                delay = self._hours_to_detect(label) if detected else None
                delays.setdefault(label.profile, []).append(delay)
        return delays

    def _hours_to_detect(self, label: Label) -> float | None:
        """Onset to the first raised unreachability alert at or after it; None if none."""
        if label.onset_ms is None:
            return None
        after = [t for t in self.first_detection_ms[label.borrower_id] if t >= label.onset_ms]
        return (min(after) - label.onset_ms) / HOUR_MS if after else None


def utc_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def read_labels(path: str) -> dict[str, Label]:
    labels: dict[str, Label] = {}
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                row = orjson.loads(line)
                onset = row["onset"]
                labels[row["borrower_id"]] = Label(
                    row["borrower_id"],
                    row["profile"],
                    bool(row["unreachable"]),
                    None
                    if onset is None
                    else int(datetime.fromisoformat(onset).timestamp() * 1000),
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                message = f"{path}: line {number} is not a label ({error!r})"
                raise click.ClickException(message) from None
    return labels


def run_backtest(
    events_path: str, configs: Mapping[str, EngineConfig], *, keep_alerts: bool = False
) -> list[ConfigResult]:
    """Replay the event file once per config, named by its file (streamed from disk each
    time)."""
    results = []
    for path, config in configs.items():
        result = ConfigResult(path, config.version, keep_alerts=keep_alerts)
        with open(events_path, "rb") as events:
            for alert in replay_records(events, config, result.counts):
                result.add(alert)
        results.append(result)
    return results


def report(results: list[ConfigResult], labels: dict[str, Label] | None) -> dict[str, Any]:
    """The JSON document: one entry per config, in the order given."""
    return {
        "detection": "a borrower is detected when it got any raised unreachability alert",
        "configs": [
            {
                "config": r.config,
                "config_version": r.config_version,
                "events": r.counts.events,
                "invalid": r.counts.invalid,
                "late": r.counts.late,
                "duplicates": r.counts.duplicates,
                "alerts": [
                    {"rule": rule, "severity": severity, "state": state, "count": n}
                    for (rule, severity, state), n in sorted(r.alerts.items())
                ],
                "borrowers_alerted": len(r.first_detection_ms),
                "scores": r.scores(labels) if labels else None,
            }
            for r in results
        ],
    }


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} h"


def table_rows(results: list[ConfigResult], doc: dict[str, Any]) -> Iterator[list[str]]:
    """The terminal table: a label column, then one column per config."""
    configs = doc["configs"]
    yield ["", *(f"{chr(65 + i)}: {r.config}" for i, r in enumerate(results))]
    yield ["config_version", *(c["config_version"] for c in configs)]
    for key in ("events", "invalid", "late", "duplicates", "borrowers_alerted"):
        yield [key.replace("_", " "), *(f"{c[key]:,}" for c in configs)]
    yield ["alerts raised/escalated:", *("" for _ in configs)]
    firing = [r.firing() for r in results]
    for rule, severity in sorted(set().union(*firing)):
        yield [f"  {rule} {severity}", *(f"{f[rule, severity]:,}" for f in firing)]
    if configs[0]["scores"] is None:
        return
    yield ["detected / borrowers (time to detect):", *("" for _ in configs)]
    for profile in configs[0]["scores"]["profiles"]:
        cells = []
        for c in configs:
            s = c["scores"]["profiles"][profile]
            ttd = f" ({hours(s['median_hours_to_detect'])})" if s["median_hours_to_detect"] else ""
            cells.append(f"{s['detected']}/{s['borrowers']} {percent(s['detection_rate'])}{ttd}")
        yield [f"  {profile}", *cells]
    for key, show in (("precision", percent), ("recall", percent),
                      ("median_hours_to_detect", hours)):  # fmt: skip
        yield [key.replace("_", " "), *(show(c["scores"]["overall"][key]) for c in configs)]


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def csv_rows(doc: dict[str, Any]) -> Iterator[tuple[str, str, str, str, Any]]:
    """Long format: config, metric, group, subgroup, value (easy to pivot in a spreadsheet)."""
    for c in doc["configs"]:
        for key in ("events", "invalid", "late", "duplicates", "borrowers_alerted"):
            yield c["config"], key, "", "", c[key]
        for a in c["alerts"]:
            yield c["config"], f"alerts_{a['state']}", a["rule"], a["severity"], a["count"]
        if c["scores"] is None:
            continue
        for key, value in c["scores"]["overall"].items():
            yield c["config"], key, "overall", "", value
        for profile, scores in c["scores"]["profiles"].items():
            for key, value in scores.items():
                yield c["config"], key, "profile", profile, value


@click.command(name="backtest")
@click.argument("events", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--config",
    "configs",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A rules config (TOML); repeat to compare several.",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Ground-truth labels from `reachwatch simulate --labels`.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the full comparison as JSON.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Write the comparison as one self-contained HTML page with charts.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the comparison as CSV (long format).",
)
def command(
    *,
    events: str,
    configs: tuple[str, ...],
    labels_path: str | None,
    json_path: str | None,
    csv_path: str | None,
    report_path: str | None,
) -> None:
    """Compare rule configs over the same EVENTS file, side by side.

    Shows alerts per rule and severity, borrowers alerted and, with --labels, precision and
    recall per profile. A borrower counts as detected if it got any raised alert of category
    unreachability (compliance alerts do not count); recall is detected unreachable borrowers
    over all unreachable ones, precision is detected unreachable over all detected. Time to
    detect is the median from the label's onset to the first such alert at or after it.
    --report adds charts: alerts per day by rule, time to detect per profile, and the borrowers
    the configs disagree on, with their alerts.
    """
    engines = [s.engine for s in all_settings_or_exit([Path(path) for path in configs])]
    labels = read_labels(labels_path) if labels_path else None
    try:
        results = run_backtest(
            events, dict(zip(configs, engines, strict=True)), keep_alerts=bool(report_path)
        )
    except EventFileError as error:
        raise click.ClickException(f"{events}: {error}") from None
    doc = report(results, labels)
    click.echo(format_table(list(table_rows(results, doc))))
    if json_path:
        with click.open_file(json_path, "wb") as out:
            out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    if report_path:
        try:
            from streams.tools import backtest_html
        except ImportError as error:  # matplotlib is the `report` extra
            message = f"--report needs matplotlib: pip install 'reachwatch[report]' ({error})"
            raise click.ClickException(message) from None
        Path(report_path).write_text(
            backtest_html.render(events, results, doc, labels), encoding="utf-8"
        )
        click.echo(f"report written to {report_path}", err=True)
    if csv_path:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["config", "metric", "group", "subgroup", "value"])
        writer.writerows(csv_rows(doc))
        with click.open_file(csv_path, "w") as out:
            out.write(buffer.getvalue())
