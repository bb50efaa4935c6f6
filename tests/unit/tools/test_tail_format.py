"""`reachwatch tail`'s line format and filter, on the schema's own example alerts."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest

from streams.tools.tail import AlertFilter, format_alert, format_time
from tests.support.kafka import REPO_ROOT

SCHEMA = json.loads((REPO_ROOT / "schemas" / "alert.v1.json").read_text())
EXAMPLES: list[dict[str, Any]] = SCHEMA["examples"]
RAISED, ESCALATED = EXAMPLES[0], EXAMPLES[1]


def test_plain_line_has_every_column_aligned() -> None:
    assert format_alert(RAISED, color=False) == (
        "2026-11-29 05:50:00Z  WARNING   consecutive_unanswered     raised     b-000123  "
        "5 attempts in a row without contact since 2026-11-29 09:30 (threshold 5)."
    )
    assert format_alert(ESCALATED, color=False) == (
        "2026-11-30 08:00:00Z  CRITICAL  consecutive_unanswered     escalated  b-000123  "
        "10 attempts in a row without contact since 2026-11-29 09:30 (threshold 10)."
    )


@pytest.mark.parametrize(
    ("severity", "style"),
    [
        ("info", {"fg": "cyan"}),
        ("warning", {"fg": "yellow"}),
        ("critical", {"fg": "red", "bold": True}),
    ],
)
def test_colour_marks_only_the_severity(severity: str, style: dict[str, Any]) -> None:
    record = RAISED | {"severity": severity}
    coloured = format_alert(record, color=True)
    assert click.style(f"{severity.upper():<8}", **style) in coloured
    assert click.unstyle(coloured) == format_alert(record, color=False)


def test_unknown_severity_is_shown_uncoloured() -> None:
    record = RAISED | {"severity": "fatal"}
    assert format_alert(record, color=True) == format_alert(record, color=False)


def test_missing_fields_print_as_question_marks() -> None:
    assert format_alert({"rule": "new_rule"}, color=False) == (
        f"?  {'?':<8}  {'new_rule':<25}  {'?':<9}  ?  "
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("2026-11-29T05:50:00.000Z", "2026-11-29 05:50:00Z"),
        ("2026-11-29T13:50:00+08:00", "2026-11-29 05:50:00Z"),
        ("2026-11-29T05:50:00", "2026-11-29T05:50:00"),  # no offset: not converted
        ("yesterday", "yesterday"),
    ],
)
def test_times_are_shown_in_utc(text: str, shown: str) -> None:
    assert format_time(text) == shown


RECORDS: list[dict[str, Any]] = [
    {"rule": "low_contact_rate", "severity": "info"},
    {"rule": "consecutive_unanswered", "severity": "warning"},
    {"rule": "all_channels_failed", "severity": "critical"},
    {"rule": "low_contact_rate"},  # no severity: cannot pass a severity bar
]


@pytest.mark.parametrize(
    ("alert_filter", "shown"),
    [
        (AlertFilter(), [0, 1, 2]),
        (AlertFilter(min_severity="warning"), [1, 2]),
        (AlertFilter(min_severity="critical"), [2]),
        (AlertFilter(frozenset({"low_contact_rate"})), [0]),
        (AlertFilter(frozenset({"low_contact_rate", "all_channels_failed"})), [0, 2]),
    ],
)
def test_filter_by_rule_and_lowest_severity(alert_filter: AlertFilter, shown: list[int]) -> None:
    assert [i for i, record in enumerate(RECORDS) if alert_filter.accepts(record)] == shown
