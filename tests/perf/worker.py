"""A reachwatch worker subprocess on benchmark topics, watched through /metrics and /proc.

Timings are taken from the outside (metric scrapes every `POLL_S`), so the worker runs exactly
as in production; scrapes are rare enough not to cost it measurable CPU.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.local_kafka.broker import free_port
from streams.local_kafka.child_process import stop
from tests.perf.workload import PARTITIONS, Topics
from tests.support.kafka import start_worker, unique_name
from tests.support.pipeline import RunningWorker, write_worker_config

POLL_S = 0.5  # each scrape costs the worker ~5 ms of CPU (Faust sensors have many series)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds all cores of the machine have spent busy (not idle or waiting on I/O)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@dataclass
class DrainCpu:
    """CPU used between the first consumed event and the last: each worker's, and the whole
    machine's (broker, workers, the benchmark and anything else running)."""

    workers_s: list[float] = field(default_factory=list)
    machine_busy_s: float = 0.0


class WorkerFailed(RuntimeError):
    """The worker exited or stalled; the message carries its log tail."""


@dataclass
class BenchWorker:
    """One worker process of consumer group `app_id` reading `topics`."""

    topics: Topics
    work_dir: Path
    store: str = "memory://"
    app_id: str = ""
    guarantee: str = "at_least_once"
    profile_to: Path | None = None  # run under cProfile, stats written here on stop
    kafka: dict[str, str | int | bool] = field(default_factory=dict)  # more [kafka] keys

    def __post_init__(self) -> None:
        self.app_id = self.app_id or unique_name("bench-app")
        self.running: RunningWorker | None = None
        self.started_at = 0.0

    def start(self, name: str, data: str = "") -> RunningWorker:
        """Spawn with the data dir `data` (default: a fresh one named `name`); `started_at` is
        the monotonic spawn time."""
        port = free_port()
        config = write_worker_config(
            self.work_dir / f"{name}.toml",
            port,
            broker=f"kafka://{self.topics.bootstrap}",
            app_id=self.app_id,
            call_topic=self.topics.call,
            repayment_topic=self.topics.repayment,
            alert_topic=self.topics.alert,
            dead_letter_topic=self.topics.dead_letter,
            partitions=PARTITIONS,
            store=self.store,
            processing_guarantee=self.guarantee,
            **self.kafka,
        )
        profile = ["-m", "cProfile", "-o", str(self.profile_to)] if self.profile_to else []
        command = [*profile, "-m", "streams", "worker", "--config", str(config), "-l", "info",
                   "--data-dir", str(self.work_dir / f"data-{data or name}")]  # fmt: skip
        self.started_at = time.monotonic()
        log = self.work_dir / f"{name}.log"
        self.running = RunningWorker(start_worker(command, log), port, log)
        return self.running

    @property
    def worker(self) -> RunningWorker:
        if self.running is None:
            raise WorkerFailed("the worker was not started")
        return self.running

    def stop(self) -> None:
        if self.running is not None:
            stop(self.running.process, 60)
            self.running = None

    def gauge(self, name: str) -> float:
        samples = self.worker.metrics()
        return sum(v for (sample, _), v in samples.items() if sample == name)

    def rss_bytes(self) -> int:
        status = Path(f"/proc/{self.worker.process.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kib) * 1024

    def cpu_s(self) -> float:
        """CPU seconds the worker process has used (user + system, all its threads)."""
        fields = Path(f"/proc/{self.worker.process.pid}/stat").read_text().rsplit(")", 1)[1]
        user, system = fields.split()[11:13]
        return (int(user) + int(system)) / CLOCK_TICKS

    def drain(self, total: int, stall_s: float = 120.0) -> tuple[float, float, float]:
        """Wait until `total` events are consumed: (first seen, last seen, count at first seen).

        Times are monotonic; the first scrape with a non-zero count marks the start, which
        leaves start-up, recovery and the consumer group join out of the figure.
        """
        return drain([self], total, stall_s)


def drain(
    benches: list[BenchWorker], total: int, stall_s: float = 120.0, cpu: DrainCpu | None = None
) -> tuple[float, float, float]:
    """`BenchWorker.drain` for workers of one consumer group: their consumed counts summed;
    `cpu`, if given, receives the CPU used over the same span."""
    first_at = first_count = 0.0
    cpu_at_first: list[float] = []
    last_progress, last_count = time.monotonic(), 0.0
    while True:
        consumed = sum(bench.worker.consumed() for bench in benches)
        now = time.monotonic()
        if consumed > 0 and not first_at:
            first_at, first_count = now, consumed
            cpu_at_first = [machine_busy_s(), *(bench.cpu_s() for bench in benches)]
        if consumed >= total:
            if cpu is not None:
                cpu_now = [machine_busy_s(), *(bench.cpu_s() for bench in benches)]
                used = [round(b - a, 2) for a, b in zip(cpu_at_first, cpu_now, strict=True)]
                cpu.machine_busy_s, cpu.workers_s = used[0], used[1:]
            return first_at, now, first_count
        if consumed > last_count:
            last_progress, last_count = now, consumed
        exited = [b for b in benches if b.worker.process.poll() is not None]
        if exited or now - last_progress > stall_s:
            logs = [b.worker.log.read_text(errors="replace")[-3000:] for b in exited or benches]
            raise WorkerFailed(f"workers consumed {consumed:.0f} of {total}:\n" + "\n".join(logs))
        time.sleep(POLL_S)
