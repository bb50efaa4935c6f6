"""Kafka TLS/SASL settings: both client shapes, validation, redaction, and bounded failure."""

from __future__ import annotations

import dataclasses
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol, SASLMechanism

from streams.core.config import KafkaConfig
from streams.worker.kafka_security import (
    REDACTED,
    BrokerConnectionError,
    KafkaSecurityError,
    aiokafka_kwargs,
    bootstrap_servers,
    check_connection,
    describe,
    faust_credentials,
    kafka_python_kwargs,
    probe_broker,
    redact,
    security_problems,
    ssl_context,
)

PASSWORD = "s3cr3t-pw"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A self-signed certificate and key, standing in for both the CA and a client cert."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=reachwatch-test", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return {"ssl_cafile": str(cert), "ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def sasl(
    protocol: str = "SASL_PLAINTEXT", mechanism: str = "SCRAM-SHA-512", **extra: str
) -> KafkaConfig:
    return KafkaConfig(
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username="reachwatch",
        sasl_password=PASSWORD,
        **extra,
    )


def test_plaintext_needs_no_credentials() -> None:
    kafka = KafkaConfig()
    assert faust_credentials(kafka) is None
    assert kafka_python_kwargs(kafka) == {"security_protocol": "PLAINTEXT"}
    assert aiokafka_kwargs(kafka) == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_plaintext(mechanism: str) -> None:
    kafka = sasl(mechanism=mechanism)
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_PLAINTEXT
    assert credentials.mechanism is SASLMechanism(mechanism)
    assert (credentials.username, credentials.password) == ("reachwatch", PASSWORD)
    assert kafka_python_kwargs(kafka) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "reachwatch",
        "sasl_plain_password": PASSWORD,
    }
    assert aiokafka_kwargs(kafka)["ssl_context"] is None


def test_sasl_ssl_verifies_the_broker(tls_files: dict[str, str]) -> None:
    kafka = sasl("SASL_SSL", ssl_cafile=tls_files["ssl_cafile"])
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_SSL
    context = credentials.ssl_context
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    client = kafka_python_kwargs(kafka)
    assert client["security_protocol"] == "SASL_SSL"
    assert client["ssl_cafile"] == tls_files["ssl_cafile"]
    assert "ssl_certfile" not in client
    assert aiokafka_kwargs(kafka)["security_protocol"] == "SASL_SSL"


def test_mutual_tls(tls_files: dict[str, str]) -> None:
    kafka = KafkaConfig(security_protocol="SSL", **tls_files)
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, SSLCredentials)
    assert credentials.protocol is AuthProtocol.SSL
    assert kafka_python_kwargs(kafka) == {"security_protocol": "SSL", **tls_files}
    client = aiokafka_kwargs(kafka)
    assert client["security_protocol"] == "SSL"
    assert isinstance(client["ssl_context"], ssl.SSLContext)


def test_tls_without_cafile_uses_system_cas() -> None:
    context = ssl_context(KafkaConfig(security_protocol="SSL"))
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("kafka", "problem"),
    [
        (KafkaConfig(security_protocol="TLS"), 'kafka.security_protocol: "TLS" is not allowed'),
        (sasl(mechanism="GSSAPI"), 'kafka.sasl_mechanism: "GSSAPI" is not allowed'),
        (
            dataclasses.replace(sasl(), sasl_password=None),
            "kafka.sasl_password: is required when security_protocol is SASL_PLAINTEXT",
        ),
        (
            KafkaConfig(sasl_username="reachwatch"),
            "kafka.sasl_username: is set but security_protocol PLAINTEXT does not use SASL",
        ),
        (
            KafkaConfig(ssl_cafile="/etc/ca.pem"),
            "kafka.ssl_cafile: is set but security_protocol PLAINTEXT does not use SSL",
        ),
        (
            KafkaConfig(security_protocol="SSL", ssl_cafile="/nowhere/ca.pem"),
            "kafka.ssl_cafile: /nowhere/ca.pem is not a readable file",
        ),
    ],
)
def test_inconsistent_settings_are_named(kafka: KafkaConfig, problem: str) -> None:
    with pytest.raises(KafkaSecurityError, match="invalid Kafka security settings") as error:
        kafka_python_kwargs(kafka)
    assert problem in str(error.value)
    with pytest.raises(KafkaSecurityError):
        faust_credentials(kafka)


def test_every_problem_is_reported_at_once() -> None:
    kafka = KafkaConfig(security_protocol="SASL_SSL", ssl_keyfile="/nowhere/key.pem")
    problems = security_problems(kafka)
    assert [line.split(":")[0] for line in problems] == [
        "kafka.sasl_mechanism",
        "kafka.sasl_username",
        "kafka.sasl_password",
        "kafka.ssl_keyfile",
        "kafka.ssl_keyfile",
    ]


def test_secrets_never_reach_logs(tls_files: dict[str, str]) -> None:
    kafka = sasl("SASL_SSL", ssl_cafile=tls_files["ssl_cafile"])
    logged = [
        redact(kafka),
        redact(kafka_python_kwargs(kafka)),
        repr(kafka),
        repr(faust_credentials(kafka)),
        describe(kafka),
    ]
    assert all(PASSWORD not in str(text) for text in logged)
    assert redact(kafka)["sasl_password"] == REDACTED
    assert redact(kafka_python_kwargs(kafka))["sasl_plain_password"] == REDACTED
    assert redact(kafka)["sasl_username"] == "reachwatch"
    assert redact({"sasl_password": None}) == {"sasl_password": None}


@pytest.mark.parametrize(
    ("broker", "servers"),
    [
        ("kafka://127.0.0.1:9092", ["127.0.0.1:9092"]),
        ("kafka://a:9093;kafka://b:9093", ["a:9093", "b:9093"]),
        ("a:1,b:2", ["a:1", "b:2"]),
        ("kafka://kafka", ["kafka:9092"]),
    ],
)
def test_bootstrap_servers(broker: str, servers: list[str]) -> None:
    assert bootstrap_servers(broker) == servers


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: the worst case for a client."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"kafka://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT"])
async def test_probe_fails_readably_within_the_timeout(silent_broker: str, protocol: str) -> None:
    kafka = dataclasses.replace(sasl(protocol), broker=silent_broker)
    started = time.monotonic()
    with pytest.raises(BrokerConnectionError) as error:
        await probe_broker(kafka, timeout_s=1.0)
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert f"{protocol}, SASL SCRAM-SHA-512 as reachwatch" in message
    assert "within 1s" in message
    assert PASSWORD not in message


def test_check_connection_to_a_closed_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BrokerConnectionError, match=f"127.0.0.1:{port}, PLAINTEXT"):
        check_connection(KafkaConfig(broker=f"kafka://127.0.0.1:{port}"), timeout_s=2.0)


def test_check_connection_rejects_bad_settings_before_connecting(tmp_path: Path) -> None:
    kafka = KafkaConfig(security_protocol="SSL", ssl_cafile=str(tmp_path / "missing.pem"))
    with pytest.raises(KafkaSecurityError, match=r"missing\.pem is not a readable file"):
        check_connection(kafka, timeout_s=0.5)
