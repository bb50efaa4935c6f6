"""Backlogs of simulated call attempts, and the check that a disrupted run's alerts are exactly
replay's: the machinery of the tests that kill, restart or rebalance workers."""

from __future__ import annotations

import time
from itertools import islice

import orjson
from kafka import KafkaConsumer, TopicPartition

from streams.core.config_loader import load_settings
from streams.core.decoding import CALL_ATTEMPT
from streams.tools.replay import replay_records
from streams.tools.simulate import DEFAULT_START, Simulation, parse_start
from streams.tools.simulation.output import Faults, Record


def call_attempts(count: int, borrowers: int = 2_000) -> list[Record]:
    """Simulated call attempts in arrival order (one topic, so each borrower's order is fixed
    by its partition and replay sees the same order as the workers)."""
    simulation = Simulation(borrowers=borrowers, days=60, seed=3, start=parse_start(DEFAULT_START),
                            faults=Faults(malformed=0.0))  # fmt: skip
    attempts = (r for r in simulation.records() if r.kind == CALL_ATTEMPT)
    records = list(islice(attempts, count))
    assert len(records) == count
    return records


def wait_committed_to_end(bootstrap: str, group: str, topic: str, timeout_s: float = 180) -> None:
    """Until the consumer group has committed every partition of `topic` to its end."""
    # Asking for a group's committed offsets does not join the group.
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all((consumer.committed(tp) or 0) >= ends[tp] for tp in partitions):
                return
            time.sleep(0.5)
        raise AssertionError(f"group {group} did not commit {topic} to {ends}")
    finally:
        consumer.close()


def read_to_end(bootstrap: str, topic: str) -> list[dict]:
    """Every record now in `topic`."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[dict] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(orjson.loads(record.value) for record in batch)
        return records
    finally:
        consumer.close()


def assert_alerts_are_replays(published: list[dict], records: list[Record]) -> None:
    """Every alert replay gives, none it does not; redeliveries identical to the first copy."""
    by_id: dict[str, dict] = {}
    for alert in published:
        alert.pop("emitted_at")
        assert by_id.setdefault(alert["alert_id"], alert) == alert, "a redelivery differs"
    engine = load_settings(None, env={}).engine
    expected = {alert.alert_id: alert.to_record(0) for alert in
                replay_records((r.to_line() for r in records), engine)}  # fmt: skip
    for alert in expected.values():
        alert.pop("emitted_at")
    assert len(expected) > 100
    missing, invented = expected.keys() - by_id.keys(), by_id.keys() - expected.keys()
    assert not missing, f"{len(missing)} alerts lost"
    assert not invented, f"{len(invented)} alerts no replay gives"
    assert by_id == expected
