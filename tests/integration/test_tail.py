"""`reachwatch tail` against the real broker: exact JSON and human output, filters, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import orjson
import pytest

from streams.tools.tail import format_alert
from tests.support.kafka import REPO_ROOT, create_topics, produce, unique_name
from tests.unit.tools.test_tail_format import EXAMPLES

TAIL_TIMEOUT_S = 60


@pytest.fixture
def alert_topic(kafka_bootstrap: str) -> str:
    """A one-partition topic holding the schema's first two example alerts, in order."""
    topic = unique_name("tail-alerts")
    create_topics(kafka_bootstrap, [topic])
    produce(kafka_bootstrap, topic, [(b"b-000123", orjson.dumps(a)) for a in EXAMPLES[:2]])
    return topic


def tail_env(bootstrap: str, topic: str) -> dict[str, str]:
    return dict(os.environ, REACHWATCH_KAFKA__BROKER=f"kafka://{bootstrap}",
                REACHWATCH_KAFKA__ALERT_TOPIC=topic)  # fmt: skip


def run_tail(
    bootstrap: str, topic: str, *options: str, timeout_s: int = 45
) -> subprocess.CompletedProcess[str]:
    command = ["tail", "--from-beginning", "--timeout", str(timeout_s), *options]
    return subprocess.run(
        [sys.executable, "-m", "streams", *command],
        env=tail_env(bootstrap, topic),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TAIL_TIMEOUT_S,
        check=False,
    )


def test_json_lines_are_the_bytes_on_the_topic(kafka_bootstrap: str, alert_topic: str) -> None:
    result = run_tail(kafka_bootstrap, alert_topic, "--json", "--max", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "".join(orjson.dumps(a).decode() + "\n" for a in EXAMPLES[:2])


def test_human_lines_without_a_terminal_are_uncoloured(
    kafka_bootstrap: str, alert_topic: str
) -> None:
    result = run_tail(kafka_bootstrap, alert_topic, "--max", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [format_alert(a, color=False) for a in EXAMPLES[:2]]


def test_min_severity_filters_and_a_short_count_exits_1(
    kafka_bootstrap: str, alert_topic: str
) -> None:
    result = run_tail(
        kafka_bootstrap, alert_topic, "--min-severity", "critical", "--max", "2", timeout_s=5
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [format_alert(EXAMPLES[1], color=False)]
    assert "1 of 2 alerts within 5s" in result.stderr


def test_ctrl_c_exits_0(kafka_bootstrap: str, alert_topic: str) -> None:
    tail = subprocess.Popen(
        [sys.executable, "-m", "streams", "tail"],
        env=tail_env(kafka_bootstrap, alert_topic),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr is not None
        first = tail.stderr.readline()  # printed once positioned: handlers are installed by then
        assert first.startswith(f"following {alert_topic} (1 partitions) from now"), first
        tail.send_signal(signal.SIGINT)
        stdout, stderr = tail.communicate(timeout=TAIL_TIMEOUT_S)
    finally:
        tail.kill()
    assert tail.returncode == 0, stderr
    assert stdout == ""  # from now on: the two earlier alerts are not shown


def test_a_reader_that_goes_away_ends_tail_quietly(kafka_bootstrap: str, alert_topic: str) -> None:
    """`reachwatch tail | head -1`: once the pipe is closed, the next alert ends tail, exit 0."""
    tail = subprocess.Popen(
        [sys.executable, "-m", "streams", "tail", "--from-beginning", "--json"],
        env=tail_env(kafka_bootstrap, alert_topic),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert tail.stdout is not None
        assert tail.stderr is not None
        assert orjson.loads(tail.stdout.readline()) == EXAMPLES[0]
        tail.stdout.close()
        produce(kafka_bootstrap, alert_topic, [(b"b-000123", orjson.dumps(EXAMPLES[0]))])
        tail.wait(timeout=TAIL_TIMEOUT_S)
        stderr = tail.stderr.read().decode()
    finally:
        tail.kill()
    assert tail.returncode == 0, stderr
    assert "Error" not in stderr, stderr
