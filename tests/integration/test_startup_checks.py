"""The worker refuses to start, quickly and with one clear sentence, when it cannot work."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from streams.local_kafka.broker import free_port
from tests.support.kafka import REPO_ROOT, create_topics, unique_name


def run_worker(config: str, tmp_path: Path, timeout_s: float = 60.0) -> tuple[int, str, float]:
    path = tmp_path / "config.toml"
    path.write_text(config)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "streams", "worker", "--config", str(path),
         "--data-dir", str(tmp_path / "data")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )  # fmt: skip
    return result.returncode, result.stderr, time.monotonic() - started


def topics_config(bootstrap: str, call: str, repayment: str, extra: str = "") -> str:
    return f"""
[kafka]
broker = "kafka://{bootstrap}"
call_topic = "{call}"
repayment_topic = "{repayment}"
alert_topic = "{call}-alerts"
dead_letter_topic = "{call}-dead"
app_id = "{call}-app"
{extra}
[web]
port = {free_port()}
"""


def test_different_partition_counts_refuse_to_start(kafka_bootstrap: str, tmp_path: Path) -> None:
    call, repayment = unique_name("calls"), unique_name("repayments")
    create_topics(kafka_bootstrap, [call], partitions=4)
    create_topics(kafka_bootstrap, [repayment], partitions=2)
    code, stderr, _ = run_worker(topics_config(kafka_bootstrap, call, repayment), tmp_path)
    assert code == 2
    assert f"{call} has 4 and {repayment} has 2" in stderr
    assert "same partition count" in stderr


def test_missing_input_topics_are_named(kafka_bootstrap: str, tmp_path: Path) -> None:
    call, repayment = unique_name("calls"), unique_name("repayments")
    create_topics(kafka_bootstrap, [call], partitions=2)
    code, stderr, _ = run_worker(topics_config(kafka_bootstrap, call, repayment), tmp_path)
    assert code == 2
    assert f"{repayment} do not exist" in stderr
    assert "reachwatch topics create" in stderr


def test_unreachable_broker_fails_within_the_connect_timeout(tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"
    code, stderr, seconds = run_worker(topics_config(closed, "a", "b"), tmp_path)
    assert code == 2
    assert "could not connect to Kafka" in stderr
    assert closed in stderr
    assert seconds < 55  # a bound on the hang, not a speed claim: the probe gives up at 15 s


def test_sasl_against_a_plaintext_broker_fails_clearly(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    call, repayment = unique_name("calls"), unique_name("repayments")
    create_topics(kafka_bootstrap, [call, repayment], partitions=2)
    sasl = """security_protocol = "SASL_PLAINTEXT"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "collections-svc"
sasl_password = "s3cret-do-not-log"
"""
    code, stderr, seconds = run_worker(
        topics_config(kafka_bootstrap, call, repayment, sasl), tmp_path
    )
    assert code == 2, stderr
    assert "SASL_PLAINTEXT" in stderr
    assert "SCRAM-SHA-512" in stderr
    assert "s3cret-do-not-log" not in stderr
    assert seconds < 55


def test_bad_config_exits_2_listing_every_problem(tmp_path: Path) -> None:
    config = """
[kafka]
partitions = 0
[rules.low_contact_rate]
window = "soon"
"""
    code, stderr, _ = run_worker(config, tmp_path)
    assert code == 2
    assert "kafka.partitions" in stderr
    assert 'rules.low_contact_rate.window: "soon" is not a duration like 72h' in stderr
