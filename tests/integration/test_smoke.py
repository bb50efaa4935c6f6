"""kafka-python produces, a minimal Faust agent (aiokafka) transforms, kafka-python reads back."""

from __future__ import annotations

import os
from pathlib import Path

from streams.local_kafka.child_process import stop
from tests.support.kafka import (
    create_topics,
    produce,
    read_exactly,
    start_worker,
    unique_name,
)


def test_faust_agent_round_trip(kafka_bootstrap: str, tmp_path: Path) -> None:
    source, sink = unique_name("smoke-in"), unique_name("smoke-out")
    create_topics(kafka_bootstrap, [source, sink], partitions=2)
    sent = [(f"k{i % 3}".encode(), f"hello-{i}".encode()) for i in range(20)]
    produce(kafka_bootstrap, source, sent)
    env = dict(os.environ, SMOKE_APP_ID=unique_name("smoke"), SMOKE_BROKER=kafka_bootstrap,
               SMOKE_IN=source, SMOKE_OUT=sink)  # fmt: skip
    log = tmp_path / "worker.log"
    worker = start_worker(
        ["-m", "faust", "-A", "tests.integration.smoke_app", "--datadir", str(tmp_path / "data"),
         "worker", "-l", "warn", "--without-web"],
        log,
        env,
    )  # fmt: skip
    try:
        records = read_exactly(kafka_bootstrap, sink, len(sent), producer=worker)
    finally:
        exit_code = stop(worker)
    received = sorted((r.key, r.value) for r in records)
    assert received == sorted((key, value.upper()) for key, value in sent), log.read_text()
    assert exit_code == 0, log.read_text()
