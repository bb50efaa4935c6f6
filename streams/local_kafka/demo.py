"""`reachwatch demo`: the whole product on one machine, in one command, gone after Ctrl-C.

It starts a local broker (or uses `--bootstrap`), creates the topics, runs the worker and the
simulator as `streams.local_kafka.child_process` children, and prints the alerts the worker emits.
Its settings are the defaults (or $REACHWATCH_CONFIG) with the broker, 4 partitions and the web port
set through `REACHWATCH_*` environment overrides, which the children inherit, so the demo, its
worker and its tail read one configuration.

Stopping is ordered: simulator, then the worker by SIGTERM (it finishes its batch and commits
while the broker is still up), then the broker. A terminal's Ctrl-C goes to the whole
foreground process group, which would stop the broker at the same moment as the worker, so
children start with SIGINT ignored: an ignored signal survives exec, and the JVM and Python
leave it ignored. (Faust installs its own handler, so the worker still begins its graceful
stop on Ctrl-C, which is harmless: what matters is that the broker outlives it.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import click
from kafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

from streams.cli_options import settings_or_exit
from streams.core.config import Settings
from streams.local_kafka.broker import LocalKafka, LocalKafkaError, ensure_jars, free_port
from streams.local_kafka.broker import start_local_kafka as start_broker
from streams.local_kafka.child_process import spawn, stop
from streams.tools.simulation.population import SHANGHAI
from streams.tools.tail import AlertFollower, TopicMissing, format_alert
from streams.worker.startup import StartupError
from streams.worker.topics import create_topics

WORK_DIR = Path(".demo")
PARTITIONS = 4
SIMULATED_DAYS = 30


def first_simulated_day() -> str:
    """The simulated days end today: the worker rejects event times ahead of its clock."""
    return (datetime.now(SHANGHAI).date() - timedelta(days=SIMULATED_DAYS)).isoformat()


WORKER_READY_TIMEOUT_S = 180.0
WORKER_STOP_TIMEOUT_S = 60.0
SIMULATOR_STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 20
ASSIGNMENT_SERIES = "faust_assignment_operations_total"


class DemoError(RuntimeError):
    """A part of the demo failed to start or stopped on its own; the message says which."""


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Children started inside inherit an ignored SIGINT (see the module docstring)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def log_tail(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(f"    {line}" for line in lines)


def assignments_completed(web_port: int) -> bool:
    """True once the worker's /metrics answers and it has completed a partition assignment."""
    url = f"http://127.0.0.1:{web_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return False
    return any(
        sample.name == ASSIGNMENT_SERIES
        and sample.labels.get("operation") == "completed"
        and sample.value > 0
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    )


@dataclass
class Demo:
    """What one demo run started, stopped in the reverse order by `stop`."""

    work_dir: Path
    web_port: int
    broker: LocalKafka | None = None
    worker: subprocess.Popen[bytes] | None = None
    simulator: subprocess.Popen[bytes] | None = None
    follower: AlertFollower | None = None
    traffic_started: float = 0.0
    first_alert_s: float | None = None
    alerts_shown: int = 0
    simulator_reported: bool = False

    @property
    def worker_log(self) -> Path:
        return self.work_dir / "worker.log"

    @property
    def simulator_log(self) -> Path:
        return self.work_dir / "simulator.log"

    def spawn_logged(self, arguments: list[str], log: Path) -> subprocess.Popen[bytes]:
        """`python -m streams ARGUMENTS`, output to `log`, shielded from the terminal's Ctrl-C."""
        with log.open("wb") as out, sigint_ignored():
            return spawn([sys.executable, "-m", "streams", *arguments], stdout=out)

    def start_worker(self) -> None:
        data_dir = self.work_dir / "worker-data"
        shutil.rmtree(data_dir, ignore_errors=True)
        self.worker = self.spawn_logged(
            ["worker", "-l", "info", "--data-dir", str(data_dir)], self.worker_log
        )
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        while not assignments_completed(self.web_port):
            self.check_worker()
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the worker was not ready within {WORKER_READY_TIMEOUT_S:.0f}s "
                    f"({self.worker_log}):\n{log_tail(self.worker_log)}"
                )
            time.sleep(0.5)

    def check_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is not None:
            raise DemoError(
                f"the worker stopped with exit code {self.worker.returncode} "
                f"({self.worker_log}):\n{log_tail(self.worker_log)}"
            )

    def start_simulator(
        self, settings: Settings, bootstrap: str, borrowers: int, rate: float, seed: int
    ) -> None:
        kafka = settings.kafka
        self.simulator = self.spawn_logged(
            ["simulate", "--kafka", bootstrap, "--rate", f"{rate:g}",
             "--borrowers", str(borrowers), "--days", str(SIMULATED_DAYS), "--seed", str(seed),
             "--start", first_simulated_day(),
             "--call-topic", kafka.call_topic, "--repayment-topic", kafka.repayment_topic],
            self.simulator_log,
        )  # fmt: skip
        self.traffic_started = time.monotonic()

    def show_alerts(self, follower: AlertFollower, color: bool) -> None:
        """Print alerts as they come until interrupted or a child fails."""
        while True:
            for alert in follower.poll():
                if self.first_alert_s is None:
                    self.first_alert_s = time.monotonic() - self.traffic_started
                click.echo(format_alert(alert.record, color))
                self.alerts_shown += 1
            self.check_worker()
            self.report_simulator_end()

    def report_simulator_end(self) -> None:
        if self.simulator is None or self.simulator_reported or self.simulator.poll() is None:
            return
        self.simulator_reported = True
        if self.simulator.returncode == 0:
            click.echo(
                f"-- the simulator sent all {SIMULATED_DAYS} days of traffic; the worker keeps "
                "running (Ctrl-C to stop)"
            )
        else:
            click.echo(
                f"-- the simulator stopped with exit code {self.simulator.returncode} "
                f"({self.simulator_log}):\n{log_tail(self.simulator_log)}"
            )

    def stop(self) -> None:
        """Simulator, tail, worker (SIGTERM: it commits), broker; each wait is bounded."""
        if self.simulator is not None:
            stop(self.simulator, SIMULATOR_STOP_TIMEOUT_S)
        if self.follower is not None:
            self.follower.close()
        if self.worker is not None:
            click.echo("stopping the worker…")
            stop(self.worker, WORKER_STOP_TIMEOUT_S)
        if self.broker is not None:
            click.echo("stopping Apache Kafka…")
            self.broker.stop()


def set_demo_environment(bootstrap: str, web_port: int) -> None:
    """Overrides this process and every child reads (see the module docstring)."""
    os.environ |= {
        "REACHWATCH_KAFKA__BROKER": f"kafka://{bootstrap}",
        "REACHWATCH_KAFKA__PARTITIONS": str(PARTITIONS),
        "REACHWATCH_WEB__PORT": str(web_port),
    }


def run(
    demo: Demo,
    *,
    bootstrap: str | None,
    kafka_port: int | None,
    borrowers: int,
    rate: float,
    seed: int,
) -> None:
    """Start everything, print the banner, then the live alerts (returns only by exception)."""
    if bootstrap is None:
        click.echo("starting Apache Kafka (the first run fetches it from Maven Central)…")
        ensure_jars()
        broker_dir = demo.work_dir / "kafka"
        shutil.rmtree(broker_dir, ignore_errors=True)
        with sigint_ignored():
            demo.broker = start_broker(broker_dir, port=kafka_port)
        bootstrap = demo.broker.bootstrap
        broker_line = (
            f"Apache Kafka {demo.broker.version} at {bootstrap} "
            f"(started in {demo.broker.startup_seconds:.1f}s, log {demo.broker.log_file})"
        )
    else:
        broker_line = f"{bootstrap} (not started by the demo)"
    set_demo_environment(bootstrap, demo.web_port)
    settings = settings_or_exit(None)
    for line in create_topics(settings):
        click.echo(f"topics: {line}")
    follower = AlertFollower.open(
        settings.kafka, from_beginning=False, deadline=time.monotonic() + 60
    )
    demo.follower = follower
    click.echo(f"starting the worker (log {demo.worker_log})…")
    demo.start_worker()
    demo.start_simulator(settings, bootstrap, borrowers, rate, seed)
    metrics_url = f"http://127.0.0.1:{demo.web_port}/metrics"
    click.echo(
        "\n".join(
            (
                "",
                "reachwatch demo",
                f"  broker     {broker_line}",
                f"  metrics    {metrics_url}",
                f"  traffic    {borrowers} borrowers, {SIMULATED_DAYS} simulated days up to "
                f"today, seed {seed}, ~{rate:g} events/s (log {demo.simulator_log})",
                f"  alerts     {settings.kafka.alert_topic}",
                "Ctrl-C to stop",
                "",
            )
        )
    )
    demo.show_alerts(follower, color=sys.stdout.isatty())


@click.command("demo")
@click.option(
    "--borrowers",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Simulated population; 30 days of its traffic last ~10 min at 200/s.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=200.0,
    show_default=True,
    help="Simulated events per second.",
)
@click.option(
    "--port-base",
    type=click.IntRange(1024, 65534),
    help="Kafka on P, the worker's /metrics on P+1 (default: free ports).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Simulator seed.")
@click.option("--bootstrap", help="Use this plaintext broker instead of starting one.")
def command(
    *, borrowers: int, rate: float, port_base: int | None, seed: int, bootstrap: str | None
) -> None:
    """Local broker + topics + worker + simulated traffic + live alerts; Ctrl-C stops all."""
    # Ctrl-C and SIGTERM both raise KeyboardInterrupt, also when started with SIGINT ignored
    # (as `cmd &` does in a shell without job control).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    WORK_DIR.mkdir(exist_ok=True)
    demo = Demo(WORK_DIR, web_port=free_port() if port_base is None else port_base + 1)
    failed = False
    try:
        run(
            demo,
            bootstrap=bootstrap,
            kafka_port=port_base,
            borrowers=borrowers,
            rate=rate,
            seed=seed,
        )
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    except (DemoError, LocalKafkaError, StartupError, TopicMissing, KafkaError) as error:
        click.echo(f"reachwatch demo: {error}", err=True)
        failed = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop()
    first = (
        "none" if demo.first_alert_s is None else f"{demo.first_alert_s:.1f}s after traffic began"
    )
    click.echo(f"stopped; {demo.alerts_shown} alerts shown, first: {first}")
    sys.exit(1 if failed else 0)
