"""A TLS refusal names its cause in one sentence: an untrusted CA, or a certificate for another
name. A plain Python TLS server stands in for the broker: the handshake fails before Kafka
speaks, so these need no broker (tests/integration/test_secure_kafka.py repeats them live)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.core.config import KafkaConfig
from streams.worker.kafka_security import BrokerConnectionError, check_connection
from tests.support.pki import CertificateAuthority


@pytest.fixture(scope="module")
def authorities(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create(folder / "ca", "test-ca")
    rogue = CertificateAuthority.create(folder / "rogue", "rogue-ca")
    server = ca.issue("broker", "IP:127.0.0.1")
    return {"ca": ca.cert, "rogue": rogue.cert, "cert": server.cert, "key": server.key}


@pytest.fixture
def tls_server(authorities: dict[str, Path]) -> Iterator[int]:
    """Accepts TLS handshakes on 127.0.0.1 (certificate for IP 127.0.0.1 only) until closed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(authorities["cert"], authorities["key"])
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    thread.join()
    server.close()


def refusal(host: str, port: int, cafile: Path) -> str:
    kafka = KafkaConfig(
        broker=f"kafka://{host}:{port}", security_protocol="SSL", ssl_cafile=str(cafile)
    )
    with pytest.raises(BrokerConnectionError) as error:
        check_connection(kafka, timeout_s=10.0)
    return str(error.value)


def one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message and "\n" not in message


def test_a_certificate_from_an_untrusted_ca(tls_server: int, authorities: dict[str, Path]) -> None:
    message = refusal("127.0.0.1", tls_server, authorities["rogue"])
    assert "(untrusted CA)" in message
    assert str(authorities["rogue"]) in message
    assert one_sentence(message), message


def test_a_certificate_for_another_name(tls_server: int, authorities: dict[str, Path]) -> None:
    message = refusal("localhost", tls_server, authorities["ca"])
    assert "not valid for the name localhost (hostname mismatch)" in message
    assert one_sentence(message), message
