"""The worker end to end on the real broker: alerts, dead letters, restart, rebalance, metrics.

Every test runs its own topics and consumer group. Events are produced in scenario order and
paced by topic run (see Deployment.send_in_order), so the worker sees the same order as replay.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from kafka.partitioner.default import murmur2

from streams.core.config_loader import load_settings
from streams.tools.replay import replay_records
from tests.support.pipeline import Deployment, EventRecord, RunningWorker
from tests.support.scenario import EXPECTED, scenario

# (store, processing guarantee): each store at least once, and exactly once on memory.
SETUPS = [("memory://", "at_least_once"), ("rocksdb://", "at_least_once"),
          ("memory://", "exactly_once")]  # fmt: skip


@pytest.fixture
def deployment(
    kafka_bootstrap: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Deployment]:
    store, guarantee = getattr(request, "param", ("memory://", "at_least_once"))
    deployment = Deployment(kafka_bootstrap, tmp_path, store=store, guarantee=guarantee)
    try:
        yield deployment
    finally:
        deployment.stop_all()


def transitions(alerts: list[dict]) -> dict[str, list[tuple[str, str, str]]]:
    by_borrower: dict[str, list[tuple[str, str, str]]] = {borrower: [] for borrower in EXPECTED}
    for alert in alerts:
        by_borrower.setdefault(alert["borrower_id"], []).append(
            (alert["rule"], alert["state"], alert["severity"])
        )
    return by_borrower


def replayed(records: list[EventRecord]) -> list[dict]:
    lines = [orjson.dumps({"kind": kind, "event": event}) for kind, event in records]
    return [
        alert.to_record(0) for alert in replay_records(lines, load_settings(None, env={}).engine)
    ]


def without_emitted_at(alerts: list[dict]) -> list[dict]:
    return [{k: v for k, v in a.items() if k not in {"emitted_at", "_key"}} for a in alerts]


def per_borrower(alerts: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for alert in alerts:
        grouped.setdefault(alert["borrower_id"], []).append(alert)
    return grouped


def differences(worker: dict[str, list[dict]], replay: dict[str, list[dict]]) -> list[str]:
    """Field-level differences, so a failure says what differs and not just that it does."""
    found = []
    for borrower in sorted(set(worker) | set(replay)):
        mine, theirs = worker.get(borrower, []), replay.get(borrower, [])
        if len(mine) != len(theirs):
            found.append(f"{borrower}: worker {len(mine)} alerts, replay {len(theirs)}")
        for index, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            found += [f"{borrower}[{index}].{key}: worker {a.get(key)!r} replay {b.get(key)!r}"
                      for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]  # fmt: skip
    return found


def expected_count() -> int:
    return sum(len(v) for v in EXPECTED.values())


@pytest.mark.parametrize("deployment", SETUPS, indirect=True, ids="-".join)
def test_scenario_gives_expected_alerts_same_as_replay(deployment: Deployment) -> None:
    run_scenario(deployment)


def run_scenario(deployment: Deployment) -> None:
    records = scenario()
    worker = deployment.start_worker()
    deployment.send_in_order(records, worker)
    alerts = deployment.alerts(expected_count())

    assert transitions(alerts) == EXPECTED, deployment.logs()
    assert_same_as_replay(alerts, records)


def assert_same_as_replay(alerts: list[dict], records: list[EventRecord]) -> None:
    assert all(alert["_key"] == alert["borrower_id"] for alert in alerts)
    worker_alerts, replay_alerts = (
        per_borrower(without_emitted_at(alerts)),
        per_borrower(without_emitted_at(replayed(records))),
    )
    assert worker_alerts == replay_alerts, differences(worker_alerts, replay_alerts)
    assert len({alert["alert_id"] for alert in alerts}) == len(alerts)


def test_malformed_events_go_to_dead_letters_and_nothing_is_lost(deployment: Deployment) -> None:
    valid = scenario()
    bad_values = [
        b"\xff\xfe not utf-8",
        b"{not json",
        b"[1, 2, 3]",
        orjson.dumps({"event_id": "x1", "borrower_id": "b-avoid", "channel": "voice"}),
        orjson.dumps({"event_id": "x2", "borrower_id": "b-avoid", "attempted_at":
                      "2026-11-02T10:00:00", "channel": "voice", "outcome": "answered"}),
        orjson.dumps({"event_id": "x3", "borrower_id": "b-avoid", "attempted_at":
                      "2026-11-02T10:00:00+08:00", "channel": "fax", "outcome": "answered"}),
    ]  # fmt: skip
    malformed: list[EventRecord] = [("call_attempt", value) for value in bad_values]
    mixed = [*valid[:10], *malformed[:3], *valid[10:20], *malformed[3:], *valid[20:]]
    worker = deployment.start_worker()
    deployment.send_in_order(mixed, worker)

    dead = deployment.dead_letters(len(malformed))
    assert sorted(record["reason"] for record in dead) == sorted(
        ["not_utf8", "not_json", "not_object", "missing_field", "timestamp_without_offset",
         "unknown_enum"]
    )  # fmt: skip
    assert sorted(base64.b64decode(record["value_base64"]) for record in dead) == sorted(bad_values)
    assert {record["source_topic"] for record in dead} == {deployment.call_topic}
    assert all(record["key"] == "b-avoid" for record in dead)
    alerts = deployment.alerts(expected_count())
    assert transitions(alerts) == EXPECTED, deployment.logs()

    samples = worker.metrics()
    consumed = sum(v for (n, _), v in samples.items() if n == "reachwatch_events_consumed_total")
    invalid = sum(v for (n, _), v in samples.items() if n == "reachwatch_events_invalid_total")
    duplicate = sum(v for (n, _), v in samples.items() if n == "reachwatch_events_duplicate_total")
    assert consumed == len(valid) + len(bad_values)
    assert invalid == len(bad_values)
    assert duplicate == 1  # the redelivered avoidance attempt in the scenario


def split_inside_silent_run() -> tuple[list[EventRecord], list[EventRecord]]:
    """Split the scenario after b-silent's 3rd unanswered attempt: its run spans the split."""
    records = scenario()
    silent = [i for i, (_, event) in enumerate(records)
              if isinstance(event, dict) and event["borrower_id"] == "b-silent"]  # fmt: skip
    cut = silent[2] + 1
    return records[:cut], records[cut:]


@pytest.mark.parametrize("deployment", SETUPS[:2], indirect=True, ids=lambda s: s[0])
def test_restart_recovers_state_from_changelog(deployment: Deployment) -> None:
    before, after = split_inside_silent_run()
    sweep = ("--eviction-sweep", "0.5")  # also refreshes reachwatch_borrowers_tracked
    first = deployment.start_worker("node", *sweep)  # same data dir: RocksDB reopens its store
    deployment.send_in_order(before, first)
    assert deployment.stop_worker(first) == 0, deployment.logs()
    second = deployment.start_worker("node", *sweep)
    deployment.wait_ready(second)
    deployment.send_in_order(after, second)

    alerts = deployment.alerts(expected_count())
    assert transitions(alerts) == EXPECTED, deployment.logs()
    silent_raised = next(a for a in alerts if a["borrower_id"] == "b-silent")
    assert silent_raised["evidence"]["counts"]["run"] == 5
    assert len(silent_raised["evidence"]["event_ids"]) == 5  # 3 before the restart, 2 after
    time.sleep(1.5)  # a sweep after the last batch
    tracked = second.metrics()[("reachwatch_borrowers_tracked", ())]
    assert tracked == len(EXPECTED)  # every borrower's state, restored ones included
    assert_same_as_replay(alerts, before + after)


def committed_partitions(worker: RunningWorker, topic: str) -> set[int]:
    """Partitions of `topic` whose offsets this worker has committed (Faust's own metric)."""
    committed = "faust_topic_partition_offset_commited"
    return {int(dict(labels)["partition"]) for (name, labels) in worker.metrics()
            if name == committed and ("topic", topic) in labels}  # fmt: skip


def owner_of(key: bytes, deployment: Deployment, *workers: RunningWorker) -> RunningWorker:
    """The worker that processed (and committed) the call-topic partition of `key`."""
    partition = (murmur2(key) & 0x7FFFFFFF) % deployment.partitions  # the producer's choice
    deadline = time.monotonic() + 30  # commits happen every few seconds
    while time.monotonic() < deadline:
        owners = [w for w in workers if partition in committed_partitions(w, deployment.call_topic)]
        if len(owners) == 1:
            return owners[0]
        time.sleep(0.5)
    raise AssertionError(f"no single owner of partition {partition}\n{deployment.logs()}")


def test_two_workers_split_partitions_and_hand_over_state(deployment: Deployment) -> None:
    """b-silent's run of unanswered attempts starts on one worker and ends on the other."""
    before, after = split_inside_silent_run()
    one = deployment.start_worker("one")
    deployment.wait_ready(one)
    two = deployment.start_worker("two")
    deployment.wait_ready(two)
    deployment.wait_ready(one, times=2)  # the rebalance that gave `two` its share
    deployment.send_in_order(before, one, two)
    assert one.consumed() > 0, deployment.logs()
    assert two.consumed() > 0, deployment.logs()

    owner = owner_of(b"b-silent", deployment, one, two)
    survivor = two if owner is one else one
    rebalances = survivor.log.read_text(errors="replace").count("Worker ready")
    assert deployment.stop_worker(owner) == 0, deployment.logs()
    deployment.wait_ready(survivor, times=rebalances + 1)  # took over, with the state
    deployment.send_in_order(after, survivor)

    alerts = deployment.alerts(expected_count())
    assert transitions(alerts) == EXPECTED, deployment.logs()
    assert_same_as_replay(alerts, before + after)


def test_repartition_handles_unkeyed_producers(kafka_bootstrap: str, tmp_path: Path) -> None:
    deployment = Deployment(kafka_bootstrap, tmp_path, repartition=True)
    try:
        run_scenario(deployment)
    finally:
        deployment.stop_all()
