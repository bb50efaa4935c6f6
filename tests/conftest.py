"""Session fixtures: one real Apache Kafka broker per test run (or $KAFKA_BOOTSTRAP)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.local_kafka.broker import LocalKafkaError, start_local_kafka
from tests.support.secure_kafka import SecureKafka, start_secure_kafka

_BROKER_LINE = pytest.StashKey[str]()
INTEGRATION_DIR = Path(__file__).parent / "integration"


def _announce(config: pytest.Config, line: str) -> None:
    config.stash[_BROKER_LINE] = line
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\n{line}")


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """The broker's bootstrap address; failing to start it fails the tests that need it."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        _announce(request.config, f"kafka: using KAFKA_BOOTSTRAP={external}")
        yield external
        return
    try:
        broker = start_local_kafka()
    except LocalKafkaError as error:
        pytest.fail(f"the local Kafka broker is not available: {error}", pytrace=False)
    _announce(
        request.config,
        f"kafka: Apache Kafka {broker.version} started in {broker.startup_seconds:.1f}s "
        f"at {broker.bootstrap}",
    )
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def secure_kafka(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecureKafka]:
    """A second broker, started only when a test asks: SASL_SSL (SCRAM-SHA-512) and mutual-TLS
    listeners behind an authorizer, with certificates and passwords made for this run."""
    try:
        secure = start_secure_kafka(tmp_path_factory.mktemp("secure-kafka"))
    except LocalKafkaError as error:
        pytest.fail(f"the secured local Kafka broker is not available: {error}", pytrace=False)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"\nkafka: secured broker started in {secure.broker.startup_seconds:.1f}s "
            f"(SASL_SSL {secure.sasl_ssl}, mTLS {secure.mtls})"
        )
    try:
        yield secure
    finally:
        secure.broker.stop()


BROKER_FIXTURES = ("kafka_bootstrap", "secure_kafka")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the broker (all of tests/integration, and any other that asks
    for it) is marked `integration`, so `pytest -m "not integration"` runs without Java."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        needs_broker = any(name in fixtures for name in BROKER_FIXTURES)
        if needs_broker or INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = terminalreporter.config.stash.get(_BROKER_LINE, None)
    if line:
        terminalreporter.write_line(line)
