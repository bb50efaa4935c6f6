"""`reachwatch topics create`: every topic reachwatch reads or writes, with the right settings."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from streams.cli_options import config_option, settings_or_exit
from streams.core.config import DAY_MS, INPUT_RETENTION_MS, Settings
from streams.worker.kafka_security import (
    BrokerConnectionError,
    KafkaSecurityError,
    check_connection,
)
from streams.worker.startup import CONNECT_TIMEOUT_S, StartupError, admin_client, create_missing

TABLE_CHANGELOG_SUFFIX = "-borrowers-changelog"


def topic_specs(settings: Settings) -> list[NewTopic]:
    """Inputs and alerts share the partition count; the table changelog is compacted. Dead
    letters hold raw input payloads (personal data): `dead_letter_retention`, by default the
    inputs' retention."""
    kafka = settings.kafka
    partitions, replicas = kafka.partitions, kafka.replication_factor

    def spec(name: str, retention_ms: int | None, compact: bool = False) -> NewTopic:
        configs = {"cleanup.policy": "compact" if compact else "delete"}
        if retention_ms is not None:
            configs["retention.ms"] = str(retention_ms)
        return NewTopic(name, partitions, replicas, topic_configs=configs)

    return [
        spec(kafka.call_topic, INPUT_RETENTION_MS),
        spec(kafka.repayment_topic, INPUT_RETENTION_MS),
        spec(kafka.alert_topic, 30 * DAY_MS),
        spec(kafka.dead_letter_topic, kafka.dead_letter_retention_ms),
        spec(f"{kafka.app_id}{TABLE_CHANGELOG_SUFFIX}", None, compact=True),
    ]


def create_topics(settings: Settings) -> list[str]:
    """Create what is missing; a line per topic saying what happened."""
    specs = topic_specs(settings)
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
def create_command(config_path: Path | None) -> None:
    """Create input, alert, dead-letter and changelog topics (idempotent)."""
    settings = settings_or_exit(config_path)
    try:  # a bounded probe first: kafka-python alone can wait forever on a TLS mismatch
        check_connection(settings.kafka, CONNECT_TIMEOUT_S)
    except (BrokerConnectionError, KafkaSecurityError) as error:
        click.echo(f"reachwatch: could not create topics: {error}", err=True)
        sys.exit(1)
    try:
        for line in create_topics(settings):
            click.echo(line)
    except (KafkaError, OSError, StartupError) as error:
        click.echo(f"reachwatch: could not create topics: {error}", err=True)
        sys.exit(1)
