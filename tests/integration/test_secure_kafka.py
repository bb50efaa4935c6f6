"""Against a broker that demands it: SASL_SSL with SCRAM-SHA-512, and TLS with a required client
certificate, behind an authorizer that grants the worker's user only docs/operations.md's ACLs.

Over each listener `topics create`, the worker (exactly-once), `simulate --kafka` and `tail`
work; a wrong password, an untrusted CA and a name mismatch each end in one sentence naming the
cause; and no secret appears in any output, log or /metrics scrape.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAuthorizationFailedError

from streams.core.config import KafkaConfig
from streams.local_kafka.broker import free_port
from streams.local_kafka.child_process import stop
from streams.worker.kafka_security import kafka_python_kwargs
from tests.support.kafka import REPO_ROOT, start_worker, unique_name
from tests.support.pipeline import write_worker_config
from tests.support.secure_kafka import MTLS, SASL_SSL, SecureKafka
from tests.unit.core.test_schemas import schema_errors

COMMAND_TIMEOUT_S = 120


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        cwd=REPO_ROOT,
        env=None if env is None else os.environ | env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def secure_deployment(secure: SecureKafka, listener: str, **overrides: object) -> dict[str, object]:
    """The `[kafka]` keys of one deployment: its own topics and app id, exactly-once."""
    prefix = unique_name("secure")
    return {
        **secure.security(listener),
        "app_id": prefix,
        "call_topic": f"{prefix}.call-attempts",
        "repayment_topic": f"{prefix}.repayments",
        "alert_topic": f"{prefix}.alerts",
        "dead_letter_topic": f"{prefix}.dead-letters",
        "partitions": 2,
        "processing_guarantee": "exactly_once",
        **overrides,
    }


def config_file(folder: Path, keys: dict[str, object], web_port: int) -> Path:
    return write_worker_config(folder / f"{keys['app_id']}.toml", web_port, **keys)  # type: ignore[arg-type]


def secrets_of(secure: SecureKafka) -> list[str]:
    """Both SCRAM passwords and the client's private key (a line of its base64 body)."""
    key_line = secure.client.key.read_text().splitlines()[1]
    return [secure.password, secure.admin_password, key_line]


@pytest.mark.parametrize("listener", [SASL_SSL, MTLS])
def test_every_client_works_over_the_listener(
    secure_kafka: SecureKafka, listener: str, tmp_path: Path
) -> None:
    keys = secure_deployment(secure_kafka, listener)
    kafka = KafkaConfig(**keys)  # type: ignore[arg-type]
    secure_kafka.grant(kafka, secure_kafka.principal(listener))
    web_port = free_port()
    config = config_file(tmp_path, keys, web_port)
    outputs: list[str] = []

    created = run("topics", "create", "--config", str(config))
    outputs += [created.stdout, created.stderr]
    assert created.returncode == 0, created.stderr
    assert created.stdout.count("created ") == 5, created.stdout

    log = tmp_path / "worker.log"
    worker = start_worker(
        ["-m", "streams", "worker", "--config", str(config), "-l", "info",
         "--data-dir", str(tmp_path / "data")],
        log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while "Worker ready" not in log.read_text(errors="replace"):
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)

        simulated = run(
            "simulate", "--kafka", kafka.broker.removeprefix("kafka://"),
            "--call-topic", kafka.call_topic, "--repayment-topic", kafka.repayment_topic,
            "--borrowers", "12", "--days", "10", "--profile-mix", "lost_contact=1",
            env={"REACHWATCH_CONFIG": str(config)},
        )  # fmt: skip
        outputs += [simulated.stdout, simulated.stderr]
        assert simulated.returncode == 0, simulated.stderr

        tailed = run(
            "tail", "--config", str(config), "--from-beginning", "--json",
            "--max", "3", "--timeout", "90",
        )  # fmt: skip
        outputs += [tailed.stdout, tailed.stderr]
        assert tailed.returncode == 0, f"{tailed.stderr}\n{log.read_text()}"
        alerts = [orjson.loads(line) for line in tailed.stdout.splitlines()]
        assert len(alerts) == 3
        assert [schema_errors("alert", alert) for alert in alerts] == [[], [], []]

        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=10) as r:
            outputs.append(r.read().decode())
        assert "reachwatch_events_consumed_total" in outputs[-1]
    finally:
        stop(worker, 60)
    outputs.append(log.read_text(errors="replace"))
    broker_dir = secure_kafka.broker.work_dir
    outputs += [
        (broker_dir / name).read_text(errors="replace") for name in ("kafka.log", "kafka.stdout")
    ]
    for secret in secrets_of(secure_kafka):
        assert not [text for text in outputs if secret in text]


def test_the_worker_user_gets_nothing_beyond_its_acls(
    secure_kafka: SecureKafka, tmp_path: Path
) -> None:
    """The authorizer is on: outside its app's names the worker's user may not even create."""
    kafka = KafkaConfig(**secure_deployment(secure_kafka, SASL_SSL))  # type: ignore[arg-type]
    secure_kafka.grant(kafka, secure_kafka.principal(SASL_SSL))
    settings = kafka_python_kwargs(kafka)
    admin = KafkaAdminClient(bootstrap_servers=secure_kafka.sasl_ssl, **settings)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            admin.create_topics([NewTopic(unique_name("not-granted"), 1, 1)])
        assert kafka.call_topic not in admin.list_topics()  # granted, but not created yet
    finally:
        admin.close()


REFUSALS = [
    pytest.param(
        SASL_SSL,
        {"sasl_password": "not-the-password"},
        "refused the SASL SCRAM-SHA-512 login of user reachwatch: wrong password",
        id="wrong-password",
    ),
    pytest.param(MTLS, {"ssl_cafile": "rogue"}, "(untrusted CA)", id="untrusted-ca"),
    pytest.param(
        SASL_SSL,
        {"broker": "localhost"},
        "not valid for the name localhost (hostname mismatch)",
        id="hostname-mismatch",
    ),
]


@pytest.mark.parametrize(("listener", "change", "cause"), REFUSALS)
def test_a_refusal_names_its_cause_in_one_sentence(
    secure_kafka: SecureKafka, listener: str, change: dict[str, str], cause: str, tmp_path: Path
) -> None:
    overrides: dict[str, object] = dict(change)
    if change.get("ssl_cafile") == "rogue":
        overrides["ssl_cafile"] = str(secure_kafka.rogue_ca.cert)
    if change.get("broker") == "localhost":
        port = secure_kafka.broker.listeners[listener].rpartition(":")[2]
        overrides["broker"] = f"kafka://localhost:{port}"
    keys = secure_deployment(secure_kafka, listener, **overrides)
    config = config_file(tmp_path, keys, free_port())
    result = run("worker", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("reachwatch:")]
    sentence = line.removeprefix("reachwatch: cannot start: ")
    assert cause in sentence
    assert sentence.endswith("."), sentence
    assert ". " not in sentence, sentence
    for secret in secrets_of(secure_kafka):
        assert secret not in result.stderr
