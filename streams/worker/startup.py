"""Start-up checks that turn a misconfigured deployment into one clear sentence, not a hang."""

from __future__ import annotations

import contextlib
from typing import NamedTuple

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.core.config import KafkaConfig, Settings
from streams.worker.kafka_security import (
    BrokerConnectionError,
    KafkaSecurityError,
    bootstrap_servers,
    check_connection,
    describe,
    kafka_python_kwargs,
)

CONNECT_TIMEOUT_S = 15.0


class StartupError(RuntimeError):
    """The worker must not start; the message says what to fix."""


class Topology(NamedTuple):
    partitions: int  # of the table and the topics the engine reads
    inputs: dict[str, int]  # partition count of each input topic (the partitioner needs it)


def admin_client(settings: Settings) -> KafkaAdminClient:
    kafka = settings.kafka
    return KafkaAdminClient(
        bootstrap_servers=bootstrap_servers(kafka.broker),
        request_timeout_ms=int(CONNECT_TIMEOUT_S * 1000),
        **kafka_python_kwargs(kafka),
    )


def topic_partition_counts(admin: KafkaAdminClient, topics: list[str]) -> dict[str, int]:
    """Partition count of each topic that exists (missing topics are left out)."""
    existing = set(admin.list_topics())
    present = [topic for topic in topics if topic in existing]
    if not present:
        return {}
    return {entry["name"]: len(entry["partitions"]) for entry in admin.describe_topics(present)}


def rekeyed_topic(kafka: KafkaConfig, topic: str) -> str:
    """The internal topic holding `topic`'s events keyed by borrower_id (repartition mode)."""
    return f"{kafka.app_id}-{topic}-by-borrower"


def create_missing(admin: KafkaAdminClient, specs: list[NewTopic]) -> dict[str, int]:
    """Create the topics of `specs` that do not exist; the partition counts of those that did."""
    existing = topic_partition_counts(admin, [spec.name for spec in specs])
    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        admin.create_topics(missing)
    return existing


def ensure_rekeyed_topics(settings: Settings) -> None:
    """Create the by-borrower topics before Faust subscribes (it does not declare them)."""
    kafka = settings.kafka
    specs = [NewTopic(rekeyed_topic(kafka, topic), kafka.partitions, kafka.replication_factor)
             for topic in (kafka.call_topic, kafka.repayment_topic)]  # fmt: skip
    admin = admin_client(settings)
    try:  # another worker starting at the same time may create them first
        with contextlib.suppress(TopicAlreadyExistsError):
            create_missing(admin, specs)
    finally:
        admin.close()


def preflight(settings: Settings) -> Topology:
    """The partition counts the worker runs with, after checking broker and topics."""
    kafka = settings.kafka
    try:
        check_connection(kafka, CONNECT_TIMEOUT_S)
        admin = admin_client(settings)
    except (BrokerConnectionError, KafkaSecurityError) as error:
        raise StartupError(str(error)) from error
    except (KafkaError, OSError) as error:
        raise StartupError(f"cannot reach Kafka ({describe(kafka)}): {error}") from error
    inputs = [kafka.call_topic, kafka.repayment_topic]
    try:
        counts = topic_partition_counts(admin, inputs)
    except KafkaError as error:
        message = f"cannot describe the input topics on {describe(kafka)}: {error}"
        raise StartupError(message) from error
    finally:
        admin.close()
    missing = [topic for topic in inputs if topic not in counts]
    if missing:
        raise StartupError(
            f"input topic(s) {', '.join(missing)} do not exist on {describe(kafka)}; "
            "create them with `reachwatch topics create` (same --config)"
        )
    if kafka.repartition:
        try:
            ensure_rekeyed_topics(settings)
        except KafkaError as error:
            raise StartupError(f"cannot create the by-borrower topics: {error}") from error
        return Topology(kafka.partitions, counts)
    if counts[kafka.call_topic] != counts[kafka.repayment_topic]:
        raise StartupError(
            f"input topics must have the same partition count so that one borrower's events "
            f"meet in one partition, but {kafka.call_topic} has {counts[kafka.call_topic]} and "
            f"{kafka.repayment_topic} has {counts[kafka.repayment_topic]}"
        )
    return Topology(counts[kafka.call_topic], counts)
