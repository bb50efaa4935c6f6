"""A reachwatch deployment for one test: its own topics, consumer group, config file and workers."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streams.local_kafka.broker import free_port
from streams.local_kafka.child_process import stop
from streams.worker.web import READINESS_PATH
from tests.support.kafka import (
    create_topics,
    produce,
    produce_librdkafka,
    read_exactly,
    start_worker,
    unique_name,
)

# (kind, event object, or a malformed record's raw text or bytes)
EventRecord = tuple[str, dict | str | bytes]
MALFORMED_KEY = b"b-avoid"  # malformed records are keyed like real ones, so only the body is bad


@dataclass
class RunningWorker:
    process: Popen[bytes]
    web_port: int
    log: Path
    config: Path | None = None  # its config file

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The live /metrics scrape as {(sample name, sorted labels): value}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of a GET on the web port; an HTTP error status is an answer too."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def readiness(self) -> tuple[int, dict] | None:
        """The readiness answer, or None while the port does not answer yet."""
        try:
            status, body = self.get(READINESS_PATH)
        except OSError:
            return None
        return status, json.loads(body)

    def consumed(self, topics: frozenset[str] | None = None) -> float:
        """Events consumed (from `topics` only, if given); -1 while /metrics does not answer."""
        try:
            samples = self.metrics()
        except OSError:
            return -1.0
        return sum(
            value
            for (name, labels), value in samples.items()
            if name == "reachwatch_events_consumed_total"
            and (topics is None or dict(labels)["topic"] in topics)
        )


def write_worker_config(path: Path, web_port: int, **kafka: str | int | bool) -> Path:
    """A worker config file: these `[kafka]` keys and the `[web]` port."""

    def toml(value: str | int | bool) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        return json.dumps(value)  # a JSON string or integer is the same in TOML

    keys = [f"{key} = {toml(value)}" for key, value in kafka.items()]
    path.write_text("\n".join(["[kafka]", *keys, "", "[web]", f"port = {web_port}", ""]))
    return path


def consumed_by(workers: Sequence[RunningWorker], topics: frozenset[str] | None = None) -> float:
    return sum(max(worker.consumed(topics), 0.0) for worker in workers)


@dataclass
class Deployment:
    """Topics, config and workers of one isolated reachwatch instance on the shared broker."""

    bootstrap: str
    work_dir: Path
    partitions: int = 4
    store: str = "memory://"
    guarantee: str = "at_least_once"
    repartition: bool = False  # then producers send without keys, as unkeyed producers do,
    keyed: bool | None = None  # unless this is True (None: keyed exactly when not repartitioning)
    # None: repayments are produced like call attempts (kafka-python, Java's murmur2
    # partitioner); a dict: through librdkafka with these settings ({} keeps its defaults)
    repayment_producer: dict[str, str] | None = None
    prefix: str = field(default_factory=lambda: unique_name("rw"))
    topic_suffix: str = ""  # ".v1" with a "collections." prefix names topics like production
    workers: list[RunningWorker] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.keyed is None:
            self.keyed = not self.repartition
        self.call_topic = f"{self.prefix}.call-attempts{self.topic_suffix}"
        self.repayment_topic = f"{self.prefix}.repayments{self.topic_suffix}"
        self.alert_topic = f"{self.prefix}.alerts{self.topic_suffix}"
        self.shadow_alert_topic = f"{self.prefix}.shadow-alerts{self.topic_suffix}"
        self.dead_letter_topic = f"{self.prefix}.dead-letters{self.topic_suffix}"
        topics = [self.call_topic, self.repayment_topic, self.alert_topic, self.dead_letter_topic]
        create_topics(self.bootstrap, [*topics, self.shadow_alert_topic], self.partitions)

    @property
    def engine_topics(self) -> frozenset[str]:
        """The topics the engine's agent reads (the by-borrower ones when repartitioning)."""
        inputs = (self.call_topic, self.repayment_topic)
        if self.repartition:
            return frozenset(f"{self.prefix}-{topic}-by-borrower" for topic in inputs)
        return frozenset(inputs)

    def config_file(self, web_port: int) -> Path:
        return write_worker_config(
            self.work_dir / f"config-{web_port}.toml",
            web_port,
            broker=f"kafka://{self.bootstrap}",
            app_id=self.prefix,
            call_topic=self.call_topic,
            repayment_topic=self.repayment_topic,
            alert_topic=self.alert_topic,
            shadow_alert_topic=self.shadow_alert_topic,
            dead_letter_topic=self.dead_letter_topic,
            partitions=self.partitions,
            store=self.store,
            processing_guarantee=self.guarantee,
            repartition=self.repartition,
        )

    def start_worker(
        self,
        name: str = "w1",
        *extra_args: str,
        env: dict[str, str] | None = None,
        web_port: int | None = None,
    ) -> RunningWorker:
        """`env` adds environment variables (Faust reads some settings from there);
        `web_port` is a free one unless given (a restarted worker may need its old one)."""
        port = web_port or free_port()
        log = self.work_dir / f"worker-{name}-{len(self.workers)}.log"
        config = self.config_file(port)
        process = start_worker(
            ["-m", "streams", "worker", "--config", str(config), "-l", "info",
             "--data-dir", str(self.work_dir / f"data-{name}"), *extra_args],
            log,
            env=None if env is None else os.environ | env,
        )  # fmt: skip
        worker = RunningWorker(process, port, log, config)
        self.workers.append(worker)
        return worker

    def stop_worker(self, worker: RunningWorker) -> int:
        code = stop(worker.process, 60)
        self.workers.remove(worker)
        return code

    def stop_all(self) -> None:
        for worker in list(self.workers):
            self.stop_worker(worker)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}"
            for log in sorted(self.work_dir.glob("worker-*.log"))
        )

    def send(self, records: Iterable[EventRecord]) -> int:
        """Produce in order, keyed by borrower_id (a malformed record keeps its raw bytes)."""
        calls, repayments = [], []
        for kind, event in records:
            if isinstance(event, dict):
                key, value = str(event["borrower_id"]).encode(), orjson.dumps(event)
            else:
                key, value = MALFORMED_KEY, event.encode() if isinstance(event, str) else event
            (calls if kind == "call_attempt" else repayments).append(
                (key if self.keyed else None, value)
            )
        produce(self.bootstrap, self.call_topic, calls)
        if self.repayment_producer is None:
            produce(self.bootstrap, self.repayment_topic, repayments)
        else:
            produce_librdkafka(
                self.bootstrap, self.repayment_topic, repayments, self.repayment_producer
            )
        return len(calls) + len(repayments)

    def send_in_order(self, records: Sequence[EventRecord], *workers: RunningWorker) -> None:
        """Produce one run of same-topic records at a time and wait until the workers read it.

        The two input topics are consumed independently, so only this pacing fixes the
        cross-topic order, which is what makes the worker's result comparable with replay.
        """
        total = consumed_by(workers, self.engine_topics)
        start = 0
        while start < len(records):
            end = start + 1
            while (
                not self.repartition  # unkeyed records may be reordered: one at a time
                and end < len(records)
                and records[end][0] == records[start][0]
            ):
                end += 1
            total += self.send(records[start:end])
            self.wait_consumed(total, *workers)
            start = end

    def wait_consumed(self, count: float, *workers: RunningWorker, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while consumed_by(workers, self.engine_topics) < count:
            dead = [w for w in workers if w.process.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise AssertionError(
                    f"workers consumed {consumed_by(workers, self.engine_topics)} of {count} "
                    f"events\n{self.logs()}"
                )
            time.sleep(0.2)

    def wait_ready(self, worker: RunningWorker, times: int = 1, timeout_s: float = 90.0) -> None:
        """Until the worker's log says it is ready (`times` counts rebalances it went through)."""
        deadline = time.monotonic() + timeout_s
        while worker.log.read_text(errors="replace").count("Worker ready") < times:
            if worker.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker never became ready\n{self.logs()}")
            time.sleep(0.2)

    def wait_readiness(self, worker: RunningWorker, status: int, timeout_s: float = 90.0) -> dict:
        """Until the worker's readiness answers `status`; its body."""
        deadline = time.monotonic() + timeout_s
        while True:
            answer = worker.readiness()
            if answer is not None and answer[0] == status:
                return answer[1]
            if worker.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"readiness never answered {status} (last: {answer})\n"
                                     f"{self.logs()}")  # fmt: skip
            time.sleep(0.2)

    def alerts(self, count: int, timeout_s: float = 60.0, *, shadow: bool = False) -> list[dict]:
        """`count` alerts from the alert topic (the shadow alert topic if `shadow`)."""
        topic = self.shadow_alert_topic if shadow else self.alert_topic
        records = read_exactly(self.bootstrap, topic, count, timeout_s)
        return [orjson.loads(record.value) | {"_key": record.key.decode()} for record in records]

    def dead_letters(self, count: int, timeout_s: float = 60.0) -> list[dict]:
        records = read_exactly(self.bootstrap, self.dead_letter_topic, count, timeout_s)
        return [orjson.loads(record.value) for record in records]
