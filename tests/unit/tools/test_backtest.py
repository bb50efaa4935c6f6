"""Backtest numbers on a hand-built event file, worked out by hand.

Default config: five voice attempts in a row without contact raise `consecutive_unanswered`
(warning) at the fifth; nothing else fires on one channel, five attempts and no loans.

| borrower | label                       | attempts, hourly from 09:00 | detected           |
|----------|-----------------------------|-----------------------------|--------------------|
| b1       | lost_contact, onset 08:00   | 5 × no_answer               | at 13:00: 5 h      |
| b2       | reliable_payer              | 5 × no_answer, answered     | yes (false alarm)  |
| b3       | active_avoider, onset 08:00 | 2 × rejected                | no                 |
| b4       | reliable_payer              | answered                    | no                 |

So precision = 1/2 (b1 of b1, b2), recall = 1/2 (b1 of b1, b3), median time to detect 5 h.
With levels starting at 6 attempts nobody is detected: precision undefined, recall 0.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.core.config import EngineConfig
from streams.core.config_loader import load_settings
from streams.tools.backtest import Label, read_labels, report, run_backtest

ONSET = "2026-11-02T08:00:00+08:00"


def attempts(borrower: str, outcomes: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{borrower}-{n}",
            "borrower_id": borrower,
            "attempted_at": f"2026-11-02T{9 + n:02d}:00:00+08:00",
            "channel": "voice",
            "outcome": outcome,
        }
        for n, outcome in enumerate(outcomes)
    ]


def engines(path: Path) -> dict[str, EngineConfig]:
    return {str(path): load_settings(path).engine}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    events = sorted(
        attempts("b1", ["no_answer"] * 5)
        + attempts("b2", ["no_answer"] * 5 + ["answered"])
        + attempts("b3", ["rejected"] * 2)
        + attempts("b4", ["answered"]),
        key=lambda event: event["attempted_at"],
    )
    labels = [
        {"borrower_id": "b1", "profile": "lost_contact", "unreachable": True, "onset": ONSET,
         "why": "number_changed"},
        {"borrower_id": "b2", "profile": "reliable_payer", "unreachable": False, "onset": None,
         "why": None},
        {"borrower_id": "b3", "profile": "active_avoider", "unreachable": True, "onset": ONSET,
         "why": "avoidance"},
        {"borrower_id": "b4", "profile": "reliable_payer", "unreachable": False, "onset": None,
         "why": None},
    ]  # fmt: skip
    paths = {name: tmp_path / f"{name}" for name in ("events", "labels", "strict", "lenient")}
    paths["events"].write_bytes(
        b"".join(orjson.dumps({"kind": "call_attempt", "event": e}) + b"\n" for e in events)
    )
    paths["labels"].write_bytes(b"".join(orjson.dumps(label) + b"\n" for label in labels))
    paths["strict"].write_text("")  # the defaults
    paths["lenient"].write_text(
        '[rules.consecutive_unanswered]\nlevels = [{ at = 6, severity = "warning" }]\n'
    )
    return paths


def test_scores_match_the_hand_computed_numbers(files: dict[str, Path]) -> None:
    labels = read_labels(str(files["labels"]))
    assert labels["b1"] == Label("b1", "lost_contact", True, 1_793_577_600_000)
    doc = report(run_backtest(str(files["events"]), engines(files["strict"])), labels)
    (result,) = doc["configs"]
    assert (result["events"], result["invalid"], result["late"], result["duplicates"]) == (
        14,
        0,
        0,
        0,
    )
    assert result["borrowers_alerted"] == 2
    assert result["alerts"] == [
        {"rule": "consecutive_unanswered", "severity": "warning", "state": "raised", "count": 2},
        {"rule": "consecutive_unanswered", "severity": "warning", "state": "resolved", "count": 1},
    ]
    overall = result["scores"]["overall"]
    assert overall["precision"] == 0.5
    assert overall["recall"] == 0.5
    assert overall["median_hours_to_detect"] == 5.0
    profiles = result["scores"]["profiles"]
    assert profiles["lost_contact"] == {
        "borrowers": 1, "detected": 1, "detection_rate": 1.0, "median_hours_to_detect": 5.0
    }  # fmt: skip
    assert profiles["reliable_payer"]["detected"] == 1
    assert profiles["reliable_payer"]["detection_rate"] == 0.5
    assert profiles["active_avoider"]["detected"] == 0


def test_a_config_that_detects_nobody(files: dict[str, Path]) -> None:
    labels = read_labels(str(files["labels"]))
    doc = report(run_backtest(str(files["events"]), engines(files["lenient"])), labels)
    (result,) = doc["configs"]
    assert result["alerts"] == []
    assert result["scores"]["overall"]["precision"] is None
    assert result["scores"]["overall"]["recall"] == 0.0
    assert result["scores"]["overall"]["median_hours_to_detect"] is None


def test_cli_side_by_side_with_json_and_csv(files: dict[str, Path], tmp_path: Path) -> None:
    out_json, out_csv = tmp_path / "out.json", tmp_path / "out.csv"
    result = CliRunner().invoke(
        main,
        ["backtest", str(files["events"]), "--config", str(files["strict"]),
         "--config", str(files["lenient"]), "--labels", str(files["labels"]),
         "--json", str(out_json), "--csv", str(out_csv)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = result.output.splitlines()
    assert table[0].split() == ["A:", str(files["strict"]), "B:", str(files["lenient"])]
    assert next(row for row in table if row.startswith("precision")).split()[1:] == ["50.0%", "-"]
    assert next(row for row in table if row.startswith("recall")).split()[1:] == ["50.0%", "0.0%"]
    doc = orjson.loads(out_json.read_bytes())
    assert [c["config"] for c in doc["configs"]] == [str(files["strict"]), str(files["lenient"])]
    rows = list(csv.DictReader(out_csv.open()))
    recall = [r["value"] for r in rows if r["metric"] == "recall" and r["group"] == "overall"]
    assert recall == ["0.5", "0.0"]


def test_cli_without_labels_shows_alert_counts_only(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        main, ["backtest", str(files["events"]), "--config", str(files["strict"])]
    )
    assert result.exit_code == 0, result.output
    assert "consecutive_unanswered warning" in result.output
    assert "precision" not in result.output


def test_cli_refuses_a_broken_label_file(files: dict[str, Path]) -> None:
    files["labels"].write_text('{"borrower_id": "b1"}\n')
    result = CliRunner().invoke(
        main,
        ["backtest", str(files["events"]), "--config", str(files["strict"]),
         "--labels", str(files["labels"])],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "line 1 is not a label" in result.output


def test_cli_names_every_problem_of_every_bad_config_and_exits_2(files: dict[str, Path]) -> None:
    files["strict"].write_text('[engine]\ngrace = "soon"\n')
    files["lenient"].write_text("[rules.consecutive_unanswered]\nenabeld = true\n")
    result = CliRunner().invoke(
        main,
        ["backtest", str(files["events"]), "--config", str(files["strict"]),
         "--config", str(files["lenient"])],
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"{files['strict']}: engine.grace" in result.output
    assert f"{files['lenient']}: rules.consecutive_unanswered.enabeld" in result.output
