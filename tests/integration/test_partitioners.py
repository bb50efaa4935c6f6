"""One borrower's events from two producers with different partitioners, RocksDB store.

Call attempts come from kafka-python (Java's murmur2 partitioner), repayments from librdkafka
(confluent-kafka) with its default CRC32 partitioner; both are keyed by borrower_id, and for
CN-0042 with 4 partitions that is partition 0 for the attempts and 1 for the repayments.
Without repartitioning the repayments are dead-lettered (`wrong_partition`) and counted; with
it the borrower gets exactly the alerts of a single-producer run (replay's); a librdkafka
producer set to `partitioner=murmur2_random` needs neither.
"""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
from jsonschema import Draft7Validator

from streams.contracts import schema
from tests.integration.test_pipeline import replayed, without_emitted_at
from tests.support.kafka import read_exactly
from tests.support.pipeline import Deployment, EventRecord, RunningWorker
from tests.support.scenario import EXPECTED, _lost_and_overdue

BORROWER = "CN-0042"
WARNING = "are not on the partition Kafka's default partitioner (murmur2) gives their key"
OVERDUE_AND_UNREACHABLE = EXPECTED["b-lost"]


def overdue_and_unreachable() -> list[EventRecord]:
    """The shared scenario's b-lost as CN-0042: overdue (repayments), three channels tried and
    none reached (attempts), then paid."""
    renamed = BORROWER.encode()
    return [(kind, orjson.loads(orjson.dumps(event).replace(b"b-lost", renamed)))
            for kind, event in _lost_and_overdue()]  # fmt: skip


def partitions_of(deployment: Deployment, topic: str, count: int) -> set[int]:
    return {record.partition for record in read_exactly(deployment.bootstrap, topic, count)}


def misrouted(worker: RunningWorker, deployment: Deployment) -> dict[str, float]:
    """reachwatch_events_misrouted_total by topic, checking the input topics' series exist."""
    counts = {dict(labels)["topic"]: value for (name, labels), value in worker.metrics().items()
              if name == "reachwatch_events_misrouted_total"}  # fmt: skip
    assert {deployment.call_topic, deployment.repayment_topic} <= set(counts)
    return {topic: value for topic, value in counts.items() if value}


def run(deployment: Deployment, records: list[EventRecord]) -> RunningWorker:
    worker = deployment.start_worker()
    deployment.send_in_order(records, worker)
    return worker


def alert_transitions(alerts: list[dict]) -> list[tuple[str, str, str]]:
    assert {alert["borrower_id"] for alert in alerts} <= {BORROWER}
    return [(alert["rule"], alert["state"], alert["severity"]) for alert in alerts]


def test_records_on_the_wrong_partition_are_dead_lettered_and_counted(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    deployment = Deployment(kafka_bootstrap, tmp_path, store="rocksdb://", repayment_producer={})
    records = overdue_and_unreachable()
    repayments = [event for kind, event in records if kind == "repayment"]
    attempts = [record for record in records if record[0] == "call_attempt"]
    try:
        worker = run(deployment, records)
        # the premise: librdkafka's default put the repayments where murmur2 does not
        assert partitions_of(deployment, deployment.call_topic, len(attempts)) == {0}
        assert partitions_of(deployment, deployment.repayment_topic, len(repayments)) == {1}

        dead = deployment.dead_letters(len(repayments))
        for letter in dead:
            Draft7Validator(schema("dead_letter.v1")).validate(letter)
        coordinates = [(d["reason"], d["source_topic"], d["source_partition"], d["key"])
                       for d in dead]  # fmt: skip
        assert coordinates == [("wrong_partition", deployment.repayment_topic, 1, BORROWER)] * 3
        assert [orjson.loads(base64.b64decode(d["value_base64"])) for d in dead] == repayments
        assert misrouted(worker, deployment) == {deployment.repayment_topic: len(repayments)}

        # only the attempts were applied, to the borrower's one state: what replay gives them
        alerts = deployment.alerts(1)
        assert alert_transitions(alerts) == [("all_channels_failed", "raised", "critical")]
        assert without_emitted_at(alerts) == without_emitted_at(replayed(attempts))

        warnings = [line for line in worker.log.read_text().splitlines() if WARNING in line]
        assert len(warnings) == 1, deployment.logs()
        assert deployment.repayment_topic in warnings[0]
        assert BORROWER not in warnings[0]
    finally:
        deployment.stop_all()


def test_with_repartition_the_borrower_gets_the_single_producer_alerts(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    deployment = Deployment(kafka_bootstrap, tmp_path, store="rocksdb://", repartition=True,
                            keyed=True, repayment_producer={})  # fmt: skip
    records = overdue_and_unreachable()
    try:
        worker = run(deployment, records)
        alerts = deployment.alerts(len(OVERDUE_AND_UNREACHABLE))
        assert alert_transitions(alerts) == OVERDUE_AND_UNREACHABLE, deployment.logs()
        assert without_emitted_at(alerts) == without_emitted_at(replayed(records))
        assert misrouted(worker, deployment) == {deployment.repayment_topic: 3}
        assert deployment.dead_letters(0) == []
    finally:
        deployment.stop_all()


def test_librdkafka_set_to_murmur2_needs_no_handling(kafka_bootstrap: str, tmp_path: Path) -> None:
    deployment = Deployment(kafka_bootstrap, tmp_path, store="rocksdb://",
                            repayment_producer={"partitioner": "murmur2_random"})  # fmt: skip
    records = overdue_and_unreachable()
    try:
        worker = run(deployment, records)
        assert partitions_of(deployment, deployment.repayment_topic, 3) == {0}
        alerts = deployment.alerts(len(OVERDUE_AND_UNREACHABLE))
        assert alert_transitions(alerts) == OVERDUE_AND_UNREACHABLE, deployment.logs()
        assert without_emitted_at(alerts) == without_emitted_at(replayed(records))
        assert misrouted(worker, deployment) == {}
        assert deployment.dead_letters(0) == []
    finally:
        deployment.stop_all()
