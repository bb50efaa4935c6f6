"""A real Prometheus scraping a live worker with deploy/prometheus's config and alert rules
(minutes made seconds, see tests/support/prometheus.py): each condition an alert rule is about is
created, and the rule is read firing through Prometheus's HTTP API; the Grafana dashboard's
queries return data.

Consumer lag is what the rule measures: input end offsets minus committed offsets. The worker
here commits by time only, every COMMIT_INTERVAL_S (not every 10,000 acks), so right after a
commit a steady input makes that lag grow for that long while the worker keeps processing and
answering scrapes. The committed-offset series appear with the first commit, which the test
waits for.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from streams.core.decoding import CALL_ATTEMPT
from tests.support.kafka import unique_name
from tests.support.pipeline import Deployment, EventRecord
from tests.support.prometheus import Prometheus, start_prometheus
from tests.support.scenario import at, call, repayment
from tests.unit.test_deploy_files import DASHBOARD, tool

COMMIT_INTERVAL_S = 20  # the first commit comes two intervals after the consumer starts
COMMIT_BY_TIME_ONLY = {"BROKER_COMMIT_INTERVAL": str(COMMIT_INTERVAL_S),
                       "BROKER_COMMIT_EVERY": "1000000000"}  # fmt: skip
TRAFFIC_ALERTS = {"ReachwatchConsumerLagGrowing", "ReachwatchDeadLettersRising",
                  "ReachwatchAlertRateSpike", "ReachwatchMisroutedEvents"}  # fmt: skip
BROKEN = (CALL_ATTEMPT, b'{"event_id": "broken"')  # not JSON: a dead letter


def traffic(second: int) -> list[EventRecord]:
    """One second of input: 10 borrowers' numbers found invalid (10 raised alerts), 10 broken
    messages (dead letters) and 500 answered calls on the call-attempt topic, and 5 repayments
    that librdkafka's default partitioner puts on partitions their keys do not belong on."""
    return [
        *(call(f"spike-{second}-{i}", at(1, 10), "voice", "number_invalid") for i in range(10)),
        *(BROKEN for _ in range(10)),
        *(call(f"steady-{second}-{i}", at(1, 10), "voice", "answered") for i in range(500)),
        *(repayment(f"mis-{second}-{i}", at(1, 9), "due", 0) for i in range(5)),
    ]


def warm_up() -> list[EventRecord]:
    """Answered calls for 40 borrowers (every partition gets some), a late and a duplicate."""
    newest = call("late-b", at(5, 10), "voice", "answered")
    return [*(call(f"warm-{i}", at(1, 10), "voice", "answered") for i in range(40)),
            newest, call("late-b", at(1, 10), "voice", "answered"), newest]  # fmt: skip


def dashboard_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [(panel["title"], target["expr"].replace("$__rate_interval", "30s"))
            for panel in panels for target in panel.get("targets", [])]  # fmt: skip


def assert_dashboard_has_data(prometheus: Prometheus) -> None:
    empty = [title for title, expr in dashboard_queries() if not prometheus.query(expr)]
    assert not empty, f"dashboard panels without data: {empty}"


def test_alert_rules_fire_for_their_conditions(kafka_bootstrap: str, tmp_path: Path) -> None:
    deployment = Deployment(kafka_bootstrap, tmp_path, prefix=unique_name("collections.rwprom"),
                            topic_suffix=".v1", repayment_producer={})  # fmt: skip
    with deployment:
        worker = deployment.start_worker("w1", env=COMMIT_BY_TIME_ONLY)
        deployment.wait_readiness(worker, 200)
        prometheus = start_prometheus(tool("prometheus"), tmp_path / "prometheus",
                                      [f"127.0.0.1:{worker.web_port}"])  # fmt: skip
        try:
            run_conditions(deployment, prometheus)
        finally:
            prometheus.stop()


def run_conditions(deployment: Deployment, prometheus: Prometheus) -> None:
    (worker,) = deployment.workers
    prometheus.wait_until("the worker scraped", lambda: prometheus.query("up == 1"))

    # The first commit, after which committed-offset series exist: traffic starts right after it.
    deployment.send_in_order(warm_up(), worker)
    prometheus.wait_until(
        "committed offsets scraped",
        lambda: prometheus.query("faust_topic_partition_offset_commited"),
        timeout_s=2 * COMMIT_INTERVAL_S + 30,
    )
    assert not prometheus.firing() & (TRAFFIC_ALERTS | {"ReachwatchWorkerDown"})

    # Steady input with an alert spike and dead letters, until each rule about them fires.
    seen: set[str] = set()
    deadline = time.monotonic() + COMMIT_INTERVAL_S + 60
    second = 0
    while not seen >= TRAFFIC_ALERTS:
        assert time.monotonic() < deadline, f"fired so far: {seen}\n{deployment.logs()}"
        assert worker.process.poll() is None, deployment.logs()
        started = time.monotonic()
        deployment.send(traffic(second))
        second += 1
        seen |= prometheus.firing()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    assert_dashboard_has_data(prometheus)
    assert "ReachwatchNoInput" not in prometheus.firing()

    # Silence: no input event for the (scaled) half hour.
    no_input = "ReachwatchNoInput"
    prometheus.wait_until(no_input, lambda: no_input in prometheus.firing(), timeout_s=90)
    assert "ReachwatchWorkerDown" not in prometheus.firing()

    # The worker stops.
    deployment.stop_worker(worker)
    prometheus.wait_until("down", lambda: "ReachwatchWorkerDown" in prometheus.firing())
