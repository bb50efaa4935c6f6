"""Failover: how long a worker's borrowers go unwatched when it is killed or restarted.

Run: .venv/bin/python -m tests.perf.failover [--borrowers N] [--store memory://] [--dynamic]

Two workers of one consumer group (RocksDB store and one standby replica by default, each with
its own static member id unless --dynamic) first load `borrowers` states, so the survivor has a
table to take over. Then steady traffic in which every event raises exactly one alert (a new
borrower's invalid number: `contact_info_invalid` fires at once), and an in-process consumer
reads the alerts as they come. Two disruptions of worker A follow, each while the traffic runs:

- SIGKILL: A is killed; later restarted (same member id and data dir) to get back to two.
- SIGTERM restart: A is stopped gracefully and started again at once.

Each figure is the largest gap between consecutive alerts received on A's input partitions
(the group's own account of A's assignment just before the disruption), from the last alert
before it to the first after; the largest gap on the other partitions is given for comparison.
Every event must come out as an alert: lost and made-up alerts are counted (by borrower, as
each borrower gets exactly one alert), redeliveries too. Standalone, it starts its own broker
and writes bench-results/failover.json; `tests.perf.run_all` runs it as `failover`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.perf.worker import BenchWorker, WorkerFailed, drain
from tests.perf.workload import PARTITIONS, Topics, fill, now_text, one_attempt_each, producer
from tests.support.backlog import read_to_end
from tests.support.kafka import group_assignment, unique_name

RATE = 200  # events/s, each raising one alert: a 4-partition gap resolution of ~20 ms
SETTLE_S = 10.0  # traffic before a disruption, and after the moved partitions resumed
RESUME_TIMEOUT_S = 120.0
MEMBERS = ("failover-a", "failover-b")


@dataclass
class Traffic:
    """Steady alert-raising traffic and the alerts read back, on its own thread and loop."""

    topics: Topics
    rate: int = RATE
    sent_at: dict[str, float] = field(default_factory=dict)  # borrower -> monotonic send time
    partition_of: dict[str, int] = field(default_factory=dict)  # borrower -> input partition
    received: list[tuple[float, str, str]] = field(default_factory=list)  # (at, borrower, id)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60):
            raise WorkerFailed("the traffic thread did not start")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(120)

    def received_on(self, partitions: set[int], since: float) -> bool:
        """Whether an alert has been received on every one of `partitions` after `since`."""
        seen = {self.partition_of.get(b) for at, b, _ in list(self.received) if at > since}
        return partitions <= seen

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.topics.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        sender = producer(self.topics.bootstrap)
        await consumer.start()
        await sender.start()
        consumer.assign([TopicPartition(self.topics.alert, p) for p in range(PARTITIONS)])
        reader = asyncio.create_task(self._read(consumer))
        self._ready.set()
        try:
            await self._send(sender)
            deadline = time.monotonic() + RESUME_TIMEOUT_S
            while time.monotonic() < deadline and self.accounting()["lost"]:
                await asyncio.sleep(0.5)  # the last alerts
        finally:
            reader.cancel()
            await sender.stop()
            await consumer.stop()

    async def _send(self, sender: AIOKafkaProducer) -> None:
        started, n, pending = time.monotonic(), 0, []
        while not self._stop.is_set():
            elapsed = time.monotonic() - started
            while n < elapsed * self.rate:
                borrower = f"fo-{n:07d}"
                event = {"event_id": f"{borrower}-ca", "borrower_id": borrower,
                         "attempted_at": now_text(int(time.time() * 1000)), "channel": "voice",
                         "outcome": "number_invalid", "borrower_tz": midday_zone()}  # fmt: skip
                self.sent_at[borrower] = time.monotonic()
                future = await sender.send(self.topics.call, orjson.dumps(event),
                                           key=borrower.encode())  # fmt: skip
                pending.append((borrower, future))
                n += 1
            for borrower, future in pending:
                self.partition_of[borrower] = (await future).partition
            pending.clear()
            await asyncio.sleep(0.005)

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.monotonic()
                for record in records:
                    alert = orjson.loads(record.value)
                    self.received.append((now, alert["borrower_id"], alert["alert_id"]))

    def largest_gap(self, partitions: set[int], around: float, until: float) -> float | None:
        """The longest wait between consecutive alerts on `partitions`, from the last alert
        before `around` to the last one before `until`."""
        times = sorted(at for at, b, _ in self.received if self.partition_of.get(b) in partitions)
        before = [t for t in times if t <= around]
        after = [t for t in times if around < t <= until]
        if not before or not after:
            return None
        gaps = [b - a for a, b in pairwise([before[-1], *after])]
        return round(max(gaps), 2)

    def first_alerts_after(self, partitions: set[int], at: float) -> float | None:
        """Seconds from `at` until every one of `partitions` had an alert again."""
        firsts: dict[int, float] = {}
        for received_at, borrower, _ in sorted(self.received):
            partition = self.partition_of.get(borrower)
            if received_at > at and partition in partitions:
                firsts.setdefault(partition, received_at)
        return round(max(firsts.values()) - at, 2) if firsts.keys() == partitions else None

    def accounting(self) -> dict:
        alerted = {borrower for _, borrower, _ in self.received}
        ids = [alert_id for _, _, alert_id in self.received]
        lost = self.sent_at.keys() - alerted
        return {
            "events_sent": len(self.sent_at),
            "alerts_received": len(ids),
            "lost": len(lost),
            "lost_partitions": sorted({self.partition_of.get(b, -1) for b in lost}),
            "lost_sent_at": sorted(round(self.sent_at[b], 1) for b in lost)[
                :: max(1, len(lost) // 5)
            ],
            "made_up": len(alerted - self.sent_at.keys()),
            "redelivered": len(ids) - len(set(ids)),
        }


def midday_zone() -> str:
    """A zone where it is now around noon: a call then breaks no quiet hours, so the only alert
    is the invalid number's (Etc/GMT-N is UTC+N)."""
    offset = (12 - time.gmtime().tm_hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}"


def wait_resumed(traffic: Traffic, partitions: set[int], since: float, watched: list) -> None:
    """Until alerts arrive again on all of `partitions`."""
    deadline = time.monotonic() + RESUME_TIMEOUT_S
    while not traffic.received_on(partitions, since):
        dead = [b for b in watched if b.running and b.worker.process.poll() is not None]
        if dead or time.monotonic() > deadline:
            tails = [b.worker.log.read_text(errors="replace")[-3000:]
                     for b in watched if b.running]  # fmt: skip
            raise WorkerFailed(f"{sorted(partitions)} never resumed\n" + "\n".join(tails))
        time.sleep(0.1)


def disruption(traffic: Traffic, moved: set[int], at: float) -> dict:
    """Gaps from `at` until now, on the moved partitions and on the others."""
    others, now = set(range(PARTITIONS)) - moved, time.monotonic()
    return {
        "moved_partitions": sorted(moved),
        "largest_gap_moved_s": traffic.largest_gap(moved, at, now),
        "largest_gap_other_s": traffic.largest_gap(others, at, now) if others else None,
        "first_alerts_after_s": traffic.first_alerts_after(moved, at),
        "at_monotonic": round(at, 1),
        "load_1m": os.getloadavg()[0],
    }


def takeover_restore(log: Path, moved: set[int]) -> dict:
    """Faust's own account of the survivor's last recovery: changelog records it had to read
    for the moved partitions (highwater − where reading started) against their whole
    changelog, which a takeover without a standby copy reads in full."""
    text = log.read_text(errors="replace")

    def last_table(title: str) -> dict[int, int]:
        rows: dict[int, int] = {}
        for line in text[text.rfind(title) :].splitlines()[1:] if title in text else []:
            if line.startswith("+") and rows:
                break
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) == 3 and cells[1].isdigit():
                rows[int(cells[1])] = int(cells[2])
        return rows

    highwater = last_table("Highwater - Active")
    started = last_table("Reading Starts At - Active")
    return {
        "records_read": sum(highwater[p] - started.get(p, 0) for p in moved if p in highwater),
        "changelog_records": sum(highwater.get(p, 0) for p in moved),
    }


def run(bootstrap: str, work_dir: Path, borrowers: int = 100_000, *, store: str = "rocksdb://",
        static: bool = True, standby_replicas: int = 1) -> dict:  # fmt: skip
    """Load, then SIGKILL worker A, restart it, then SIGTERM-restart it; figures per step."""
    topics = Topics.create(bootstrap, "failover")
    fill(topics, one_attempt_each(borrowers))
    app_id = unique_name("bench-failover")
    benches = []
    for member in MEMBERS:
        kafka: dict[str, str | int | bool] = {"standby_replicas": standby_replicas}
        if static:
            kafka["group_instance_id"] = member
        benches.append(BenchWorker(topics, work_dir, store, app_id, kafka=kafka))
    a, b = benches
    traffic = Traffic(topics)
    result: dict = {"borrowers": borrowers, "store": store, "static_membership": static,
                    "standby_replicas": standby_replicas, "rate_events_per_s": RATE}  # fmt: skip
    try:
        a.start("failover-a")
        b.start("failover-b")
        drain(benches, borrowers)
        traffic.start()
        time.sleep(SETTLE_S)

        moved = group_assignment(bootstrap, app_id, topics.call).get(MEMBERS[0], set())
        killed_at = time.monotonic()
        a.worker.process.send_signal(signal.SIGKILL)
        a.worker.process.wait(30)
        a.running = None
        moved = moved or set(range(PARTITIONS))  # dynamic members: not told apart, all watched
        wait_resumed(traffic, moved, killed_at, [b])
        time.sleep(SETTLE_S)
        result["sigkill"] = disruption(traffic, moved, killed_at)
        result["sigkill"]["takeover_restore"] = takeover_restore(b.worker.log, moved)
        print(f"SIGKILL: {result['sigkill']}", flush=True)

        a.start("failover-a-back", data="failover-a")
        moved = wait_owning(traffic, bootstrap, app_id, MEMBERS[0] if static else "", benches)
        time.sleep(SETTLE_S)

        stopped_at = time.monotonic()
        a.stop()  # SIGTERM, waits for the exit
        stop_s = time.monotonic() - stopped_at
        a.start("failover-a-restarted", data="failover-a")
        wait_owning(traffic, bootstrap, app_id, MEMBERS[0] if static else "", benches)
        wait_resumed(traffic, moved, stopped_at, benches)
        time.sleep(SETTLE_S)
        result["sigterm_restart"] = disruption(traffic, moved, stopped_at)
        result["sigterm_restart"]["stop_s"] = round(stop_s, 2)
        print(f"SIGTERM restart: {result['sigterm_restart']}", flush=True)
    finally:
        traffic.stop()
        result["worker_counts"] = [counts(bench) for bench in benches if bench.running]
        for bench in benches:
            bench.stop()
    result |= traffic.accounting()
    if result["lost"]:  # whether the alerts are missing from the topic or only from the reader
        in_topic = {alert["borrower_id"] for alert in read_to_end(bootstrap, topics.alert)}
        result["lost_from_topic"] = len(traffic.sent_at.keys() - in_topic)
        result["dead_letters"] = len(read_to_end(bootstrap, topics.dead_letter))
    return result


def counts(bench: BenchWorker) -> dict[str, float]:
    """What a worker says it did with its input (its /metrics)."""
    samples = bench.worker.metrics()
    names = ("consumed", "invalid", "late", "duplicate")
    totals = dict.fromkeys(names, 0.0)
    for (sample, _), value in samples.items():
        for name in names:
            if sample == f"reachwatch_events_{name}_total":
                totals[name] += value
    totals["alerts"] = sum(v for (n, _), v in samples.items() if n == "reachwatch_alerts_total")
    return totals


def wait_owning(traffic: Traffic, bootstrap: str, group: str, member: str, watched: list) -> set:
    """Until `member` owns input partitions and alerts flow on them; returns them (all of
    them for dynamic members, which the group does not name)."""
    deadline = time.monotonic() + RESUME_TIMEOUT_S
    topic = traffic.topics.call
    while not (owned := group_assignment(bootstrap, group, topic).get(member, set())) and member:
        if time.monotonic() > deadline:
            raise WorkerFailed(f"{member} never got partitions")
        time.sleep(0.5)
    owned = owned or set(range(PARTITIONS))
    wait_resumed(traffic, owned, time.monotonic(), watched)
    return owned


def main() -> None:
    from streams.local_kafka.broker import start_local_kafka

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--borrowers", type=int, default=100_000)
    parser.add_argument("--store", default="rocksdb://", choices=["rocksdb://", "memory://"])
    parser.add_argument("--standby-replicas", type=int, default=1)
    parser.add_argument("--dynamic", action="store_true", help="no static member ids")
    args = parser.parse_args()
    work_dir = Path("bench-results/work-failover")
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    load_before = os.getloadavg()
    broker = start_local_kafka()
    try:
        result = run(broker.bootstrap, work_dir, args.borrowers, store=args.store,
                     static=not args.dynamic, standby_replicas=args.standby_replicas)  # fmt: skip
    finally:
        broker.stop()
    result["load_average_before"] = load_before
    result["load_average_after"] = os.getloadavg()
    out = Path("bench-results/failover.json")
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
