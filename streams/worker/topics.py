"""`reachwatch topics create`: every topic reachwatch reads or writes, with the right settings."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from streams.cli_options import (
    challenger_option,
    challengers_or_exit,
    config_option,
    settings_or_exit,
)
from streams.core.config import DAY_MS, INPUT_RETENTION_MS, Settings
from streams.worker.kafka_security import (
    BrokerConnectionError,
    KafkaSecurityError,
    check_connection,
)
from streams.worker.startup import CONNECT_TIMEOUT_S, StartupError, admin_client, create_missing

TABLE_NAME = "borrowers"


def shadow_table_name(challenger: str) -> str:
    """A challenger's own state table (named by the challenger, not by its changing version)."""
    return f"{TABLE_NAME}-shadow-{challenger}"


def changelog_topic(app_id: str, table: str) -> str:
    """The compacted topic Faust keeps a table's changes in."""
    return f"{app_id}-{table}-changelog"


def topic_specs(settings: Settings, challengers: Sequence[str] = ()) -> list[NewTopic]:
    """Inputs and alerts share the partition count; the table changelogs are compacted. Dead
    letters hold raw input payloads (personal data): `dead_letter_retention`, by default the
    inputs' retention. With challengers (by name), also the shadow alert topic and a changelog
    per challenger."""
    kafka = settings.kafka
    partitions, replicas = kafka.partitions, kafka.replication_factor

    def spec(name: str, retention_ms: int | None, compact: bool = False) -> NewTopic:
        configs = {"cleanup.policy": "compact" if compact else "delete"}
        if retention_ms is not None:
            configs["retention.ms"] = str(retention_ms)
        return NewTopic(name, partitions, replicas, topic_configs=configs)

    specs = [
        spec(kafka.call_topic, INPUT_RETENTION_MS),
        spec(kafka.repayment_topic, INPUT_RETENTION_MS),
        spec(kafka.alert_topic, 30 * DAY_MS),
        spec(kafka.dead_letter_topic, kafka.dead_letter_retention_ms),
        spec(changelog_topic(kafka.app_id, TABLE_NAME), None, compact=True),
    ]
    if challengers:
        specs.append(spec(kafka.shadow_alert_topic, 30 * DAY_MS))
    specs += [spec(changelog_topic(kafka.app_id, shadow_table_name(name)), None, compact=True)
              for name in challengers]  # fmt: skip
    return specs


def create_topics(settings: Settings, challengers: Sequence[str] = ()) -> list[str]:
    """Create what is missing; a line per topic saying what happened."""
    specs = topic_specs(settings, challengers)
    admin = admin_client(settings)
    try:
        existing = create_missing(admin, specs)
    finally:
        admin.close()
    lines = [
        f"created {spec.name} ({spec.num_partitions} partitions)"
        for spec in specs
        if spec.name not in existing
    ]
    for spec in specs:
        if spec.name in existing:
            note = (
                ""
                if existing[spec.name] == spec.num_partitions
                else f"; config says {spec.num_partitions}: partitions are not changed here"
            )
            lines.append(f"exists  {spec.name} ({existing[spec.name]} partitions{note})")
    return lines


@click.group("topics")
def topics_group() -> None:
    """Manage the Kafka topics reachwatch uses."""


@topics_group.command("create")
@config_option
@challenger_option
def create_command(config_path: Path | None, challenger_paths: tuple[Path, ...]) -> None:
    """Create input, alert, dead-letter and changelog topics (idempotent); with challengers
    (the config's [shadow] challengers and --challenger) also the shadow alert topic and their
    changelogs."""
    settings = settings_or_exit(config_path)
    challengers = challengers_or_exit(settings, challenger_paths)
    try:  # a bounded probe first: kafka-python alone can wait forever on a TLS mismatch
        check_connection(settings.kafka, CONNECT_TIMEOUT_S)
    except (BrokerConnectionError, KafkaSecurityError) as error:
        click.echo(f"reachwatch: could not create topics: {error}", err=True)
        sys.exit(1)
    try:
        for line in create_topics(settings, [challenger.name for challenger in challengers]):
            click.echo(line)
    except (KafkaError, OSError, StartupError) as error:
        click.echo(f"reachwatch: could not create topics: {error}", err=True)
        sys.exit(1)
