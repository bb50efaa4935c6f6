"""`reachwatch tail`: follow the alert topic, one readable line (or the raw JSON) per alert.

The consumer has no group: it assigns itself every partition and commits nothing, so a tail
never takes partitions from a real consumer, never moves anyone's offsets, and any number of
them can run at once. `reachwatch demo` prints its live alerts through the same follower and
formatter.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from streams.cli_options import config_option, settings_or_exit
from streams.core.config import SEVERITIES, KafkaConfig
from streams.worker.kafka_security import (
    BrokerConnectionError,
    KafkaSecurityError,
    bootstrap_servers,
    check_connection,
    kafka_python_kwargs,
)

SEVERITY_STYLE: dict[str, dict[str, Any]] = {
    "info": {"fg": "cyan"},
    "warning": {"fg": "yellow"},
    "critical": {"fg": "red", "bold": True},
}
RULE_WIDTH = len("unreachable_while_overdue")  # the longest rule name, so columns line up
SEVERITY_RANK: dict[object, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}
STATE_WIDTH = len("escalated")
SEVERITY_WIDTH = len("critical")
POLL_MS = 500
TOPIC_WAIT_INTERVAL_S = 0.5


def format_time(text: object) -> str:
    """An RFC 3339 time as `2026-11-29 05:50:00Z`; anything else as it came."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return str(text)
    if moment.tzinfo is None:
        return str(text)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_alert(record: dict[str, Any], color: bool) -> str:
    """One line per alert.v1 record: event time, severity, rule, state, borrower, reason.

    Records come off a topic other services may write to, so a missing field prints as `?`
    instead of failing the tail.
    """
    severity = str(record.get("severity", "?"))
    label = f"{severity.upper():<{SEVERITY_WIDTH}}"
    if color and severity in SEVERITY_STYLE:
        label = click.style(label, **SEVERITY_STYLE[severity])
    return "  ".join(
        (
            format_time(record.get("event_time", "?")),
            label,
            f"{record.get('rule', '?'):<{RULE_WIDTH}}",
            f"{record.get('state', '?'):<{STATE_WIDTH}}",
            str(record.get("borrower_id", "?")),
            str(record.get("reason", "")),
        )
    )


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to show: a set of rules (empty means all) and a lowest severity."""

    rules: frozenset[str] = frozenset()
    min_severity: str = SEVERITIES[0]

    def accepts(self, record: dict[str, Any]) -> bool:
        if self.rules and record.get("rule") not in self.rules:
            return False
        rank = SEVERITY_RANK.get(record.get("severity"), -1)
        return rank >= SEVERITY_RANK[self.min_severity]


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as read: its parsed record and the exact bytes on the topic (for `--json`)."""

    record: dict[str, Any]
    raw: bytes


class TopicMissing(Exception):
    """The alert topic did not appear before the deadline."""


class AlertFollower:
    """A group-less consumer on every partition of the alert topic, positioned before use.

    Positions are resolved when the follower opens, so "from the end" means from the moment
    `open` returns: an alert sent after that is always seen, one sent before never is.
    """

    def __init__(self, consumer: KafkaConsumer, topic: str, partitions: int) -> None:
        self.consumer = consumer
        self.topic = topic
        self.partitions = partitions

    @classmethod
    def open(
        cls, kafka: KafkaConfig, *, from_beginning: bool, deadline: float | None = None
    ) -> AlertFollower:
        """Wait (until `deadline`, a monotonic time; None: forever) for the topic, then assign."""
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers(kafka.broker),
            group_id=None,
            enable_auto_commit=False,
            allow_auto_create_topics=False,  # an auto-created alert topic has the wrong layout
            **kafka_python_kwargs(kafka),
        )
        try:
            partitions = cls._wait_for_partitions(consumer, kafka.alert_topic, deadline)
            assigned = [TopicPartition(kafka.alert_topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            if from_beginning:
                consumer.seek_to_beginning(*assigned)
            else:
                consumer.seek_to_end(*assigned)
            for partition in assigned:
                consumer.position(partition)
        except BaseException:
            consumer.close()
            raise
        return cls(consumer, kafka.alert_topic, len(assigned))

    @staticmethod
    def _wait_for_partitions(
        consumer: KafkaConsumer, topic: str, deadline: float | None
    ) -> set[int]:
        while True:
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                return partitions
            if deadline is not None and time.monotonic() >= deadline:
                raise TopicMissing(f"the alert topic {topic} does not exist")
            time.sleep(TOPIC_WAIT_INTERVAL_S)

    def poll(self, timeout_ms: int = POLL_MS) -> Iterator[Alert]:
        """Alerts that arrived within `timeout_ms`; a record that is not JSON is reported and
        skipped, since no filter or format can apply to it."""
        for batch in self.consumer.poll(timeout_ms=timeout_ms).values():
            for message in batch:
                try:
                    record = orjson.loads(message.value)
                except orjson.JSONDecodeError:
                    record = None
                if not isinstance(record, dict):
                    click.echo(
                        f"tail: skipping a record that is not a JSON object at "
                        f"{message.topic}[{message.partition}]@{message.offset}",
                        err=True,
                    )
                    continue
                yield Alert(record, message.value)

    def close(self) -> None:
        self.consumer.close()


def follow(
    follower: AlertFollower,
    alert_filter: AlertFilter,
    *,
    as_json: bool,
    color: bool,
    limit: int | None,
    deadline: float | None,
) -> int:
    """Print matching alerts until `limit` of them or the deadline; how many were printed."""
    shown = 0
    while (limit is None or shown < limit) and (deadline is None or time.monotonic() < deadline):
        for alert in follower.poll():
            if not alert_filter.accepts(alert.record):
                continue
            click.echo(alert.raw.decode() if as_json else format_alert(alert.record, color))
            shown += 1
            if shown == limit:
                break
    return shown


@click.command("tail")
@config_option
@click.option("--from-beginning", is_flag=True, help="Start at the oldest retained alert.")
@click.option("--json", "as_json", is_flag=True, help="Print each alert's JSON exactly as sent.")
@click.option("--rule", "rules", multiple=True, help="Only this rule (repeatable).")
@click.option("--min-severity", type=click.Choice(SEVERITIES), default=SEVERITIES[0],
              show_default=True, help="Hide alerts below this severity.")  # fmt: skip
@click.option("--max", "limit", type=click.IntRange(min=1), help="Exit after N alerts.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True),
              help="Exit after S seconds (exit code 1 if --max was not reached).")  # fmt: skip
def command(
    *,
    config_path: Path | None,
    from_beginning: bool,
    as_json: bool,
    rules: tuple[str, ...],
    min_severity: str,
    limit: int | None,
    timeout_s: float | None,
) -> None:
    """Follow the alert topic: one line per alert (or raw JSON lines); Ctrl-C stops."""
    kafka = settings_or_exit(config_path).kafka
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        check_connection(kafka)
        follower = AlertFollower.open(kafka, from_beginning=from_beginning, deadline=deadline)
    except (BrokerConnectionError, KafkaSecurityError, KafkaError, TopicMissing) as error:
        click.echo(f"reachwatch tail: {error}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(0)
    start = "the oldest alert" if from_beginning else "now"
    shown: int | None = None
    try:  # Ctrl-C anywhere from here on, even while closing, is a clean exit 0
        click.echo(
            f"following {follower.topic} ({follower.partitions} partitions) from {start}; "
            "Ctrl-C to stop",
            err=True,
        )
        shown = follow(
            follower,
            AlertFilter(frozenset(rules), min_severity),
            as_json=as_json,
            color=sys.stdout.isatty(),
            limit=limit,
            deadline=deadline,
        )
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # the reader is gone (`| head -3`): a normal end, as for Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            follower.close()
    if shown is None:
        return
    if limit is not None and shown < limit:
        click.echo(f"reachwatch tail: {shown} of {limit} alerts within {timeout_s:g}s", err=True)
        sys.exit(1)
