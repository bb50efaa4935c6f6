"""End-to-end measurements of the real worker on the real broker.

Each function starts its own worker(s) on topics it is given and stops them before returning,
so a failure in one measurement never leaves a process behind for the next.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.perf.worker import POLL_S, BenchWorker, DrainCpu, WorkerFailed, drain
from tests.perf.workload import (
    PARTITIONS,
    Message,
    Topics,
    fill,
    memory_borrower,
    now_text,
    producer,
)
from tests.support.kafka import unique_name

BORROWERS_TRACKED = "reachwatch_borrowers_tracked"
# The latency mix: mostly failed attempts over many channels, so several rules open and close.
LATENCY_OUTCOMES = ("no_answer", "no_answer", "busy", "powered_off", "rejected",
                    "number_suspended", "voicemail", "answered")  # fmt: skip
CHANNELS = ("voice", "sms", "app_push", "email")
RESTORE_STARTS, RESTORE_ENDS = "Restoring state from changelog topics", "Recovery complete"


def saturation(
    topics: Topics,
    total: int,
    work_dir: Path,
    store: str = "memory://",
    *,
    workers: int = 1,
    guarantee: str = "at_least_once",
) -> dict:
    """Drain pre-filled topics with `workers` processes of one consumer group, started
    together: events/s from the first consumed event to the last (a group of several goes
    through one rebalance on the way, as a real deployment starting up does)."""
    app_id = unique_name("bench-app")
    benches = [BenchWorker(topics, work_dir, store, app_id, guarantee=guarantee)
               for _ in range(workers)]  # fmt: skip
    try:
        for n, bench in enumerate(benches):
            bench.start(f"saturation-{guarantee}-{workers}-{n}")
        cpu = DrainCpu()
        first_at, last_at, first_count = drain(benches, total, cpu=cpu)
        rss = [bench.rss_bytes() for bench in benches]
        shares = [bench.worker.consumed() for bench in benches]
    finally:
        for bench in benches:
            bench.stop()
    seconds = last_at - first_at
    return {
        "events": total,
        "store": store,
        "workers": workers,
        "processing_guarantee": guarantee,
        "seconds": round(seconds, 2),
        "events_per_s": round((total - first_count) / seconds),
        # CPU over the same span: per event across the workers, and how many of the machine's
        # cores were busy on average (the broker and everything else included)
        "drain_cpu_s_by_worker": cpu.workers_s,
        "workers_cpu_us_per_event": round(sum(cpu.workers_s) / (total - first_count) * 1e6, 1),
        "machine_busy_cores": round(cpu.machine_busy_s / seconds, 2),
        "consumed_by_worker": shares,
        "startup_to_first_event_s": round(first_at - benches[0].started_at, 2),
        "rss_bytes_after": rss[0] if workers == 1 else rss,
        "poll_interval_s": POLL_S,
    }


def wait_processing(bench: BenchWorker, probe: Message, timeout_s: float = 180.0) -> float:
    """Produce `probe` and return the monotonic time at which the worker had consumed it."""
    fill(bench.topics, [probe])
    deadline = time.monotonic() + timeout_s
    while bench.worker.consumed() < 1:
        if bench.worker.process.poll() is not None or time.monotonic() > deadline:
            tail = bench.worker.log.read_text(errors="replace")[-3000:]
            raise WorkerFailed(f"the worker never consumed the probe event:\n{tail}")
        time.sleep(POLL_S)
    return time.monotonic()


def probe_for(borrower_id: str) -> Message:
    event = {"event_id": f"probe-{time.time_ns()}", "borrower_id": borrower_id,
             "attempted_at": now_text(int(time.time() * 1000)), "channel": "voice",
             "outcome": "answered", "borrower_tz": "Asia/Shanghai"}  # fmt: skip
    return Message("call_attempt", borrower_id.encode(), orjson.dumps(event))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(latencies_s: list[float]) -> dict:
    return {
        "count": len(latencies_s),
        "p50_ms": round(1000 * _quantile(latencies_s, 0.50), 1),
        "p90_ms": round(1000 * _quantile(latencies_s, 0.90), 1),
        "p99_ms": round(1000 * _quantile(latencies_s, 0.99), 1),
        "max_ms": round(1000 * max(latencies_s), 1),
    }


async def _offer_load(topics: Topics, rate: int, seconds: float, borrowers: int) -> dict:
    """Send `rate` events/s stamped "now"; match alerts to the send time of their trigger.

    An alert's trigger is identified by (borrower_id, event_time): with `borrowers` of them in
    rotation each borrower gets an event every borrowers/rate seconds, so the pair is unique.
    """
    rng = random.Random(3)
    sent_at: dict[tuple[str, int], float] = {}
    received: list[tuple[dict, float]] = []
    consumer = AIOKafkaConsumer(bootstrap_servers=topics.bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")  # fmt: skip
    sender = producer(topics.bootstrap)
    await consumer.start()
    await sender.start()
    consumer.assign([TopicPartition(topics.alert, p) for p in range(PARTITIONS)])
    stop = asyncio.Event()

    async def read_alerts() -> None:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.time()
                received.extend((orjson.loads(record.value), now) for record in records)

    reader = asyncio.create_task(read_alerts())
    load_started_at = time.time()
    try:
        started, n, tick = time.monotonic(), 0, 0.005
        while (elapsed := time.monotonic() - started) < seconds:
            while n < elapsed * rate:
                now = time.time()
                now_ms = int(now * 1000)
                borrower = f"lat-{n % borrowers:05d}"
                event = {"event_id": f"lat-{n}", "borrower_id": borrower,
                         "attempted_at": now_text(now_ms), "channel": rng.choice(CHANNELS),
                         "outcome": rng.choice(LATENCY_OUTCOMES)}  # fmt: skip
                sent_at[borrower, now_ms] = now
                await sender.send(topics.call, orjson.dumps(event), key=borrower.encode())
                n += 1
            await asyncio.sleep(tick)
        await sender.flush()
        await asyncio.sleep(3)  # the last alerts
    finally:
        stop.set()
        await reader
        await sender.stop()
        await consumer.stop()
    end_to_end, to_emit, past_first_second = [], [], []
    for alert, received_at in received:
        event_ms = int(datetime.fromisoformat(alert["event_time"]).timestamp() * 1000)
        sent = sent_at.get((alert["borrower_id"], event_ms))
        if sent is None:
            continue
        end_to_end.append(received_at - sent)
        to_emit.append(datetime.fromisoformat(alert["emitted_at"]).timestamp() - sent)
        if sent >= load_started_at + 1.0:
            past_first_second.append(received_at - sent)
    return {
        "offered_events_per_s": rate,
        "seconds": seconds,
        "events_sent": n,
        "borrowers": borrowers,
        "alerts_received": len(received),
        "send_to_alert_received": _summary(end_to_end),
        "send_to_alert_emitted": _summary(to_emit),
        # the worker's first second of load sets the p99 (docs/performance.md, "Latency p99")
        "send_to_alert_received_past_first_second": _summary(past_first_second),
    }


def latency(bootstrap: str, work_dir: Path, rate: int, seconds: float) -> dict:
    """Event-to-alert latency at a fixed offered load, after the worker is up and idle."""
    topics = Topics.create(bootstrap, "latency")
    bench = BenchWorker(topics, work_dir)
    bench.start("latency")
    try:
        ready_at = wait_processing(bench, probe_for("lat-probe"))
        result = asyncio.run(_offer_load(topics, rate, seconds, borrowers=2 * rate))
        result["startup_without_state_s"] = round(ready_at - bench.started_at, 2)
        result["worker_histogram_p99_bucket_s"] = _histogram_p99(bench)
    finally:
        bench.stop()
    return result


def _histogram_p99(bench: BenchWorker) -> float | None:
    """Upper bound of the worker's own emit-delay histogram bucket holding the 99th percentile."""
    samples = bench.worker.metrics()
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in samples.items()
        if name == "reachwatch_event_to_alert_delay_seconds_bucket"
    )
    if not buckets or not buckets[-1][1]:
        return None
    return next(le for le, count in buckets if count >= 0.99 * buckets[-1][1])


def _restore_seconds(log: Path) -> float | None:
    """Faust's own account: from "Restoring state" to "Recovery complete" in the worker log."""
    stamps = {}
    for line in log.read_text(errors="replace").splitlines():
        for marker in (RESTORE_STARTS, RESTORE_ENDS):
            if marker in line:
                stamps[marker] = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
    if len(stamps) < 2:
        return None
    return round((stamps[RESTORE_ENDS] - stamps[RESTORE_STARTS]).total_seconds(), 2)


def load_and_recover(topics: Topics, borrowers: int, work_dir: Path, store: str,
                     recover: bool) -> dict:  # fmt: skip
    """Worker RSS once `borrowers` states are held; then a fresh worker restores them.

    Recovery is timed from spawning the fresh worker (new data dir, same app id) until it has
    processed a probe event sent at spawn time: Faust consumes nothing before recovery is done.
    """
    bench = BenchWorker(topics, work_dir, store)
    label = f"load-{store.removesuffix('://')}-{borrowers}"
    bench.start(label)
    try:
        first_at, last_at, first_count = bench.drain(borrowers)
        time.sleep(2)  # let the last changelog batch and the allocator settle
        result = {
            "store": store,
            "borrowers": borrowers,
            "rss_bytes": bench.rss_bytes(),
            "borrowers_tracked": bench.gauge(BORROWERS_TRACKED),
            "load_events_per_s": round((borrowers - first_count) / (last_at - first_at)),
        }
    finally:
        bench.stop()
    result["rss_bytes_per_borrower"] = round(result["rss_bytes"] / borrowers)
    if not recover:
        return result
    bench.start(f"{label}-recovery")
    try:
        ready_at = wait_processing(bench, probe_for(memory_borrower(0)))
        result["recovery_s"] = round(ready_at - bench.started_at, 2)
        result["changelog_restore_s"] = _restore_seconds(bench.worker.log)
        result["recovered_borrowers_tracked"] = bench.gauge(BORROWERS_TRACKED)
        result["rss_bytes_after_recovery"] = bench.rss_bytes()
    finally:
        bench.stop()
    return result


def main() -> None:
    """Latency alone, on its own broker: `python -m tests.perf.e2e [--seconds S] [--rate R]`;
    prints the figures and writes bench-results/latency.json."""
    import argparse
    import os

    from streams.local_kafka.broker import start_local_kafka

    parser = argparse.ArgumentParser(description="event → alert latency alone")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    work_dir = Path("bench-results/work-latency")
    work_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    broker = start_local_kafka()
    try:
        result = latency(broker.bootstrap, work_dir, args.rate, args.seconds)
    finally:
        broker.stop()
    result["load_1m_before_after"] = [load_before, os.getloadavg()[0]]
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2)
    Path("bench-results/latency.json").write_bytes(text)
    print(text.decode())


if __name__ == "__main__":
    main()
