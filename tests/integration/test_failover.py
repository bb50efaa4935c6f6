"""Two workers of one group, one of them disrupted: its partitions are taken over (SIGKILL, or
SIGTERM with the default leave), or kept for it (static membership that stays in the group), and
the alerts are exactly replay's either way.

Timings are printed (`pytest -s`), never asserted: how long a takeover takes is the benchmark's
business (tests/perf/failover.py, docs/performance.md).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.support.backlog import (
    assert_alerts_are_replays,
    call_attempts,
    read_to_end,
    wait_committed_to_end,
)
from tests.support.kafka import group_assignment, produce
from tests.support.pipeline import Deployment, RunningWorker

EVENTS = 20_000
ALL = set(range(4))
JOINED = re.compile(r"Joined group '[^']+' \(generation (\d+)\)")


def static(member: str, **kafka: str) -> dict[str, str]:
    """Environment of a worker with static member id `member` and more `[kafka]` keys."""
    env = {"REACHWATCH_KAFKA__GROUP_INSTANCE_ID": member}
    return env | {f"REACHWATCH_KAFKA__{key.upper()}": value for key, value in kafka.items()}


def generations(worker: RunningWorker) -> list[int]:
    """aiokafka's own account of every group generation this worker joined, in order."""
    return [int(n) for n in JOINED.findall(worker.log.read_text(errors="replace"))]


def wait_owned(deployment: Deployment, member: str, partitions: set[int]) -> None:
    """Until the broker says `member` owns exactly `partitions` of the call topic."""
    deadline = time.monotonic() + 120
    while True:
        owned = group_assignment(deployment.bootstrap, deployment.prefix, deployment.call_topic)
        if owned.get(member) == partitions:
            return
        dead = [w for w in deployment.workers if w.process.poll() is not None]
        assert not dead, deployment.logs()
        assert time.monotonic() < deadline, f"{owned}\n{deployment.logs()}"
        time.sleep(0.2)


def two_workers(deployment: Deployment, **kafka: str) -> tuple[RunningWorker, RunningWorker]:
    """Workers "a" and "b", each owning two partitions."""
    a = deployment.start_worker("a", env=static("a", **kafka))
    b = deployment.start_worker("b", env=static("b", **kafka))
    for member in ("a", "b"):
        deadline = time.monotonic() + 120
        while len(group_assignment(deployment.bootstrap, deployment.prefix,
                                   deployment.call_topic).get(member, ())) != 2:  # fmt: skip
            assert time.monotonic() < deadline, deployment.logs()
            time.sleep(0.2)
    return a, b


def produce_records(deployment: Deployment, records: list) -> None:
    produce(deployment.bootstrap, deployment.call_topic,
            [(r.key.encode(), r.value) for r in records])  # fmt: skip


def test_sigkill_the_survivor_takes_over_and_no_alert_is_lost_or_made_up(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    deployment = Deployment(kafka_bootstrap, tmp_path)
    records = call_attempts(EVENTS)
    half = len(records) // 2
    try:
        a, b = two_workers(deployment)
        moved = group_assignment(kafka_bootstrap, deployment.prefix, deployment.call_topic)["a"]
        produce_records(deployment, records[:half])
        deployment.wait_consumed(1, a)  # a is mid-backlog when it dies
        a.process.kill()
        killed_at = time.monotonic()
        a.process.wait(30)
        deployment.workers.remove(a)
        produce_records(deployment, records[half:])
        wait_owned(deployment, "b", ALL)
        print(f"SIGKILL: b owned {sorted(moved)} too after {time.monotonic() - killed_at:.1f} s")
        wait_committed_to_end(kafka_bootstrap, deployment.prefix, deployment.call_topic)
        assert b.process.poll() is None
        published = read_to_end(kafka_bootstrap, deployment.alert_topic)
    finally:
        deployment.stop_all()
    assert_alerts_are_replays(published, records)


def test_sigterm_a_static_member_leaves_and_the_survivor_takes_over_at_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """With a session timeout of minutes, only the member's leaving can hand its partitions
    on before it is back."""
    deployment = Deployment(kafka_bootstrap, tmp_path)
    records = call_attempts(EVENTS)
    half = len(records) // 2
    try:
        a, _ = two_workers(deployment, session_timeout="5m", heartbeat_interval="3s")
        produce_records(deployment, records[:half])
        stopped_at = time.monotonic()
        assert deployment.stop_worker(a) == 0
        assert "left group" in a.log.read_text(errors="replace"), deployment.logs()
        wait_owned(deployment, "b", ALL)
        print(f"SIGTERM with leave: b owned all after {time.monotonic() - stopped_at:.1f} s")
        deployment.start_worker("a", env=static("a", session_timeout="5m",
                                                 heartbeat_interval="3s"))  # fmt: skip
        produce_records(deployment, records[half:])
        wait_committed_to_end(kafka_bootstrap, deployment.prefix, deployment.call_topic)
        published = read_to_end(kafka_bootstrap, deployment.alert_topic)
    finally:
        deployment.stop_all()
    assert_alerts_are_replays(published, records)


def test_sigterm_restart_of_a_static_member_that_stays_costs_no_rebalance(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """leave_group_on_stop = false and a session timeout longer than the restart: the group
    keeps its generation and the restarted worker gets its own partitions back."""
    deployment = Deployment(kafka_bootstrap, tmp_path)
    records = call_attempts(EVENTS)
    half = len(records) // 2
    stays = {"session_timeout": "2m", "heartbeat_interval": "3s", "leave_group_on_stop": "false"}
    try:
        a, b = two_workers(deployment, **stays)
        before = group_assignment(kafka_bootstrap, deployment.prefix, deployment.call_topic)
        generation = generations(b)[-1]
        produce_records(deployment, records[:half])
        stopped_at = time.monotonic()
        assert deployment.stop_worker(a) == 0
        # The same web port: Faust's assignor checks that a member's URL is the one its
        # assignment was made for (in the StatefulSet, host name and port are stable).
        back = deployment.start_worker("a", env=static("a", **stays), web_port=a.web_port)
        produce_records(deployment, records[half:])
        wait_committed_to_end(kafka_bootstrap, deployment.prefix, deployment.call_topic)
        print(f"SIGTERM restart, staying: all committed {time.monotonic() - stopped_at:.1f} s "
              "after the stop")  # fmt: skip
        after = group_assignment(kafka_bootstrap, deployment.prefix, deployment.call_topic)
        assert generations(back) == [generation], deployment.logs()
        assert generations(b)[-1] == generation, deployment.logs()
        assert after == before
        published = read_to_end(kafka_bootstrap, deployment.alert_topic)
    finally:
        deployment.stop_all()
    assert_alerts_are_replays(published, records)
