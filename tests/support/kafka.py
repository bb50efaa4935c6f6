"""Test helpers for the real broker: unique topics, producing, reading back, running workers."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import CoordinatorNotAvailableError

from streams.local_kafka.child_process import spawn

REPO_ROOT = Path(__file__).resolve().parents[2]


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_topics(bootstrap: str, names: Iterable[str], partitions: int = 1) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        admin.close()


def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes | None]]
) -> int:
    """Send (key, value) pairs and wait until every one is acknowledged."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    count = 0
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
            count += 1
        producer.flush(30)
    finally:
        producer.close()
    return count


def produce_librdkafka(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None]],
    settings: dict[str, str] | None = None,
) -> int:
    """`produce` through librdkafka (confluent-kafka), whose default partitioner hashes keys
    with CRC32 where the Java client and kafka-python use murmur2; `settings` adds to or
    overrides its configuration (e.g. {"partitioner": "murmur2_random"})."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5}
                        | (settings or {}))  # fmt: skip
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error)

    count = 0
    for key, value in records:
        producer.produce(topic, value=value, key=key, on_delivery=delivered)
        count += 1
    undelivered = producer.flush(30)
    if undelivered or failures:
        raise AssertionError(f"librdkafka: {undelivered} undelivered, failures {failures}")
    return count


def read_exactly(
    bootstrap: str,
    topic: str,
    count: int,
    timeout_s: float = 60.0,
    producer: subprocess.Popen[bytes] | None = None,
) -> list:
    """Read `count` records from the start of `topic`, then check nothing more arrives briefly.

    Gives up early when `producer` (the worker writing the topic) has exited.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        deadline = time.monotonic() + timeout_s
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.2)
            partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        records: list = []
        while len(records) < count and time.monotonic() < deadline:
            if producer is not None and producer.poll() is not None:
                break
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def start_worker(command: Sequence[str], log_path: Path, env: dict[str, str] | None = None):
    """A worker subprocess with its output in `log_path` (shown when a test fails)."""
    log = log_path.open("wb")
    return spawn([sys.executable, *command], env=env, stdout=log, cwd=REPO_ROOT)


def group_assignment(bootstrap: str, group: str, topic: str) -> dict[str, set[int]]:
    """The broker's account of a consumer group: each member (its group_instance_id when
    static, else its member id) -> the partitions of `topic` it owns."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + 60
    try:
        while True:  # the group's coordinator may not be elected yet
            try:
                description = admin.describe_groups([group])[group]
                break
            except CoordinatorNotAvailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        admin.close()
    owned: dict[str, set[int]] = {}
    for member in description["members"]:
        topics = (member["member_assignment"] or {}).get("assigned_partitions", [])
        owned[member["group_instance_id"] or member["member_id"]] = {
            p for assigned in topics if assigned["topic"] == topic for p in assigned["partitions"]
        }
    return owned
