"""Extreme records on the real broker: the worker keeps running and keeps alerting.

The records of tests/support/extremes.py (times in year 9999 and 2099, a 400 KB borrower_id,
a 210 KB event id, days_past_due 1e300, a 17th contact point, ...) are produced with
kafka-python, interleaved with the scripted scenario, to a running worker. Read back with
kafka-python as well: the scenario's alerts are exactly those of a run without the extremes,
and each extreme record is one dead letter with its reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams.core.config_loader import load_settings
from streams.tools.replay import replay_records
from tests.integration.test_pipeline import assert_same_as_replay, transitions
from tests.support.extremes import REJECTED, interleaved
from tests.support.pipeline import Deployment
from tests.support.scenario import EXPECTED, scenario


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(kafka_bootstrap, tmp_path, store="memory://", guarantee="at_least_once")
    try:
        yield deployment
    finally:
        deployment.stop_all()


def test_extreme_records_are_dead_lettered_and_the_scenario_is_untouched(
    deployment: Deployment,
) -> None:
    records = scenario()
    mixed = interleaved(records)
    lines = [orjson.dumps({"kind": kind, "event": event}) for kind, event in mixed
             if not isinstance(event, bytes)]  # fmt: skip
    all_alerts = len(list(replay_records(lines, load_settings(None, env={}).engine)))
    worker = deployment.start_worker()
    deployment.send_in_order(mixed, worker)

    dead = deployment.dead_letters(len(REJECTED))
    assert Counter(letter["reason"] for letter in dead) == Counter(why for _, why in REJECTED)
    alerts = deployment.alerts(all_alerts)
    assert worker.process.poll() is None, deployment.logs()  # never exited, never restarted
    assert deployment.logs().count("Worker ready") == 1

    scenario_alerts = [alert for alert in alerts if alert["borrower_id"] in EXPECTED]
    assert transitions(scenario_alerts) == EXPECTED, deployment.logs()
    assert_same_as_replay(scenario_alerts, records)  # replay of the scenario alone
    assert all(len(orjson.dumps(letter)) < 800_000 for letter in dead)

    samples = worker.metrics()
    invalid: Counter[str] = Counter()
    for (name, labels), value in samples.items():
        if name == "reachwatch_events_invalid_total":  # per topic and reason
            invalid[dict(labels)["reason"]] += int(value)
    assert +invalid == Counter(why for _, why in REJECTED)
