"""Workers disrupted mid-backlog (SIGKILL, a rebalance, a failing batch): no alert lost or made up.

At least once means a successor re-reads what was not committed and may publish some alerts
again; their deterministic ids and identical contents are what make that harmless. So after
the crash and a successor finishing the backlog, the alert topic holds exactly the alerts
replay computes, each possibly more than once but always with the same content.
"""

from __future__ import annotations

import time
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from streams.local_kafka.broker import free_port
from streams.tools.simulation.output import Record
from tests.support.backlog import (
    assert_alerts_are_replays,
    call_attempts,
    read_to_end,
    wait_committed_to_end,
)
from tests.support.kafka import produce, start_worker
from tests.support.pipeline import Deployment, RunningWorker

EVENTS = 40_000
JOIN_EVENTS = 150_000


def committed(bootstrap: str, group: str, topic: str) -> int | None:
    """The group's committed offset of partition 0 of `topic` (None: nothing committed)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)  # fmt: skip
    try:
        return consumer.committed(TopicPartition(topic, 0))
    finally:
        consumer.close()


def backlog_then(deployment: Deployment, records: list[Record], share: float) -> RunningWorker:
    """Produce the whole backlog, start a worker, return it once it consumed `share` of it."""
    produce(deployment.bootstrap, deployment.call_topic,
            [(r.key.encode(), r.value) for r in records])  # fmt: skip
    first = deployment.start_worker("first")
    deadline = time.monotonic() + 120
    while first.consumed() < max(1, share * len(records)):
        assert first.process.poll() is None, deployment.logs()
        assert time.monotonic() < deadline, deployment.logs()
        time.sleep(0.05)
    return first


def test_sigkill_mid_backlog_loses_no_alert_and_invents_none(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    deployment = Deployment(kafka_bootstrap, tmp_path)
    records = call_attempts(EVENTS)
    try:
        first = backlog_then(deployment, records, 0.25)
        assert first.consumed() < EVENTS, "the first worker finished before it was killed"
        first.process.kill()
        first.process.wait(30)
        deployment.stop_worker(first)
        successor = deployment.start_worker("successor")
        wait_committed_to_end(kafka_bootstrap, deployment.prefix, deployment.call_topic)
        assert successor.consumed() > 0
        published = read_to_end(kafka_bootstrap, deployment.alert_topic)
    finally:
        deployment.stop_all()
    assert_alerts_are_replays(published, records)


def test_a_worker_joining_mid_backlog_takes_over_partitions_cleanly(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A rebalance while the first worker's inbox is full and a batch is in flight."""
    deployment = Deployment(kafka_bootstrap, tmp_path)
    records = call_attempts(JOIN_EVENTS, borrowers=5_000)  # outlasts the second one's start-up
    try:
        first = backlog_then(deployment, records, 0.0)
        second = deployment.start_worker("second")
        wait_committed_to_end(kafka_bootstrap, deployment.prefix, deployment.call_topic)
        assert first.consumed() < JOIN_EVENTS, "the first worker kept every partition"
        assert second.consumed() > 0, "the second worker got no partition"
        published = read_to_end(kafka_bootstrap, deployment.alert_topic)
    finally:
        deployment.stop_all()
    assert_alerts_are_replays(published, records)


FAILING_BATCH = """
import sys
import streams.core.batch

def fail(self, *args, **kwargs):
    raise RuntimeError("injected: the batch fails")

streams.core.batch.BatchProcessor.process = fail
from streams.cli import main
main(sys.argv[1:])
"""


def test_a_failing_batch_stops_the_worker_and_nothing_past_it_is_committed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Faust would restart a failed agent alone and let it ack later batches; reachwatch stops
    the worker (exit code 1) so the failed batch is read again by its successor."""
    deployment = Deployment(kafka_bootstrap, tmp_path, partitions=1)
    records = call_attempts(200)
    try:
        config = deployment.config_file(free_port())
        failing = start_worker(
            ["-c", FAILING_BATCH, "worker", "--config", str(config),
             "--data-dir", str(tmp_path / "data-failing")],
            tmp_path / "worker-failing.log",
        )  # fmt: skip
        produce(kafka_bootstrap, deployment.call_topic,
                [(r.key.encode(), r.value) for r in records])  # fmt: skip
        assert failing.wait(90) == 1, deployment.logs()
        assert "injected: the batch fails" in (tmp_path / "worker-failing.log").read_text()
        assert committed(kafka_bootstrap, deployment.prefix, deployment.call_topic) in (None, 0)

        successor = deployment.start_worker("successor")
        wait_committed_to_end(kafka_bootstrap, deployment.prefix, deployment.call_topic)
        assert successor.consumed() == len(records)  # all of them, the failed batch included
    finally:
        deployment.stop_all()
