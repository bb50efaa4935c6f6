"""A real single-node Apache Kafka broker (KRaft) on loopback, from Maven Central jars.

Used by the test suite, `reachwatch demo` and `reachwatch kafka`. There is no Docker engine on the
machines this runs on, so the broker is the plain JVM: Maven copies the jars named in `pom.xml`
beside this module into the user's cache folder once, `StorageTool format` prepares a fresh log dir,
and `kafka.Kafka` runs it. The JVM is a `streams.local_kafka.child_process` child, so a killed test
run or demo never leaves a broker behind."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from streams.local_kafka.child_process import spawn, stop

POM = Path(__file__).with_name("pom.xml")  # package data: installed with the wheel


def user_cache_dir() -> Path:
    """Where the jars are kept between runs: `$XDG_CACHE_HOME/reachwatch/kafka`, else
    `~/.cache/reachwatch/kafka`, so an installed wheel and every checkout share one copy (and
    throw-away brokers' dirs go to `brokers/` beside it)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reachwatch" / "kafka"


DEFAULT_CACHE = user_cache_dir()

_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners={listeners},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners={listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name={inter_broker}
listener.security.protocol.map={protocols},CONTROLLER:{controller_protocol}
log.dirs={log_dir}
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=9223372036854775807
"""

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class LocalKafkaError(RuntimeError):
    """The broker could not be fetched or started; the message says why."""


@dataclass(frozen=True)
class BrokerSecurity:
    """How clients must talk to the broker. The default is one plaintext listener; the test
    suite passes TLS and SASL listeners, an authorizer and SCRAM users to check that every
    client honours the `[kafka]` security keys against a broker that demands them."""

    listeners: tuple[tuple[str, str], ...] = (("PLAINTEXT", "PLAINTEXT"),)  # (name, protocol)
    inter_broker_listener: str = "PLAINTEXT"
    controller_protocol: str = "PLAINTEXT"
    properties: Mapping[str, str] = field(default_factory=dict)  # added to server.properties
    format_args: tuple[str, ...] = ()  # StorageTool format options, e.g. --add-scram
    probe_listener: str = "PLAINTEXT"  # readiness is asked on this listener...
    probe_settings: Mapping[str, Any] = field(default_factory=dict)  # ...with these settings


PLAINTEXT = BrokerSecurity()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_jars(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """Copy the broker jars from Maven Central into `cache_dir/jars` once."""
    jars = cache_dir / "jars"
    if any(jars.glob("kafka_2.13-*.jar")):
        return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError("Maven (mvn) is not on PATH; it is needed to fetch the Kafka jars")
    staging = cache_dir / "jars.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
         f"-DoutputDirectory={staging}"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        raise LocalKafkaError(
            "could not fetch the Apache Kafka jars from Maven Central "
            f"(mvn exit {result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}"
        )
    shutil.rmtree(jars, ignore_errors=True)
    staging.rename(jars)
    return jars


def kafka_version(jars: Path) -> str:
    for jar in jars.glob("kafka_2.13-*.jar"):
        match = re.fullmatch(r"kafka_2\.13-(.+)\.jar", jar.name)
        if match:
            return match.group(1)
    raise LocalKafkaError(f"no kafka_2.13 jar in {jars}")


def broker_answers(bootstrap: str, timeout_s: float = 2.0, **client: Any) -> bool:
    """True when the broker answers a metadata request (`client`: kafka-python security)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    host, _, port = bootstrap.rpartition(":")
    try:  # kafka-python blocks for ~30s on a closed port; a plain connect answers at once
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError:
        return False
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout_s * 1000),
            **client,
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.describe_cluster()
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
    return True


@dataclass
class LocalKafka:
    """A running broker: its address, version, how long it took to start, and its log.

    `bootstrap` is the probed listener's address; `listeners` maps every listener name to its."""

    bootstrap: str
    version: str
    startup_seconds: float
    log_file: Path
    work_dir: Path
    process: subprocess.Popen[bytes]
    owns_work_dir: bool = field(default=False, repr=False)
    listeners: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM for a clean controlled shutdown, SIGKILL if it does not finish in time."""
        stop(self.process, timeout_s)
        if self.owns_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _format_storage(
    java: str, classpath: str, properties: Path, log_config: Path, extra: tuple[str, ...]
) -> None:
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    formatted = subprocess.run(
        [java, "-cp", classpath, f"-Dlog4j2.configurationFile={log_config}",
         "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
         "--config", str(properties), *extra],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if formatted.returncode != 0:
        raise LocalKafkaError(f"kafka StorageTool format failed:\n{formatted.stderr[-2000:]}")


def _wait_until_ready(
    broker: LocalKafka, deadline: float, timeout_s: float, client: Mapping[str, Any]
) -> None:
    while not broker_answers(broker.bootstrap, **client):
        if broker.process.poll() is not None:
            broker.stop()
            raise LocalKafkaError(
                f"the Kafka broker exited with code {broker.process.returncode} during start-up; "
                f"log {broker.log_file}:\n{broker.log_tail()}"
            )
        if time.monotonic() > deadline:
            tail = broker.log_tail()
            broker.stop()
            raise LocalKafkaError(
                f"the Kafka broker did not answer within {timeout_s:.0f}s:\n{tail}"
            )
        time.sleep(0.3)


def start_local_kafka(
    work_dir: Path | None = None,
    *,
    port: int | None = None,
    cache_dir: Path = DEFAULT_CACHE,
    timeout_s: float = 90.0,
    heap: str = "768m",
    security: BrokerSecurity = PLAINTEXT,
) -> LocalKafka:
    """Fetch (once), format and start a broker; return when it answers metadata requests.

    `port` is the first listener's; further listeners get free ports."""
    jars = ensure_jars(cache_dir)
    java = shutil.which("java")
    if java is None:
        raise LocalKafkaError("java is not on PATH; Kafka needs Java 17 or newer")
    owns_work_dir = work_dir is None
    if work_dir is None:  # a throw-away broker's dirs live beside the jars, removed on stop
        brokers = cache_dir.parent / "brokers"
        brokers.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="kafka-", dir=brokers))
    else:
        work = work_dir
    work.mkdir(parents=True, exist_ok=True)
    log_dir = work / "data"
    log_file = work / "kafka.log"
    ports = [port or free_port(), *(free_port() for _ in security.listeners[1:])]
    addresses = {
        name: f"127.0.0.1:{p}" for (name, _), p in zip(security.listeners, ports, strict=True)
    }
    properties = work / "server.properties"
    server_properties = _SERVER_PROPERTIES.format(
        listeners=",".join(f"{name}://{address}" for name, address in addresses.items()),
        inter_broker=security.inter_broker_listener,
        protocols=",".join(f"{name}:{protocol}" for name, protocol in security.listeners),
        controller_protocol=security.controller_protocol,
        controller_port=free_port(),
        log_dir=log_dir,
    )
    extra = "".join(f"{key}={value}\n" for key, value in security.properties.items())
    properties.write_text(server_properties + extra)
    log_config = work / "log4j2.properties"
    log_config.write_text(_LOG4J2.format(log_file=log_file))
    classpath = f"{jars}/*"
    started = time.monotonic()
    if not (log_dir / "meta.properties").exists():  # a kept --data-dir is formatted already
        _format_storage(java, classpath, properties, log_config, security.format_args)
    with (work / "kafka.stdout").open("wb") as stdout:
        process = spawn(
            [java, f"-Xmx{heap}", "-Xms256m", "-XX:+UseG1GC",
             f"-Dlog4j2.configurationFile={log_config}", "-cp", classpath,
             "kafka.Kafka", str(properties)],
            stdout=stdout,
        )  # fmt: skip
    broker = LocalKafka(
        bootstrap=addresses[security.probe_listener],
        version=kafka_version(jars),
        startup_seconds=0.0,
        log_file=log_file,
        work_dir=work,
        process=process,
        owns_work_dir=owns_work_dir,
        listeners=addresses,
    )
    _wait_until_ready(broker, started + timeout_s, timeout_s, security.probe_settings)
    broker.startup_seconds = time.monotonic() - started
    return broker


@contextlib.contextmanager
def local_kafka(**kwargs: object) -> Iterator[LocalKafka]:
    broker = start_local_kafka(**kwargs)  # type: ignore[arg-type]
    try:
        yield broker
    finally:
        broker.stop()


@click.command("kafka")
@click.option("--port", type=int, default=9092, show_default=True, help="Client port.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Keep the log dir here (default: a temporary dir removed on exit).")  # fmt: skip
def kafka_command(port: int, data_dir: Path | None) -> None:
    """Run a local single-node Apache Kafka broker until Ctrl-C."""
    try:
        broker = start_local_kafka(data_dir, port=port)
    except LocalKafkaError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(
        f"Apache Kafka {broker.version} ready at {broker.bootstrap} "
        f"in {broker.startup_seconds:.1f}s (log: {broker.log_file}); Ctrl-C stops it"
    )
    try:
        broker.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
