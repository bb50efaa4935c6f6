"""/metrics after a scenario: the documented series, with counts that match what was sent."""

from __future__ import annotations

import time
from collections import Counter

from streams.core.config_loader import load_settings
from streams.worker.metrics import METRIC_NAMES, SHADOW_METRIC_NAMES
from tests.support.pipeline import Deployment
from tests.support.scenario import EXPECTED, at, call, scenario
from tests.unit.test_deploy_files import referenced_metric_names


def test_metrics_match_what_was_sent(deployment: Deployment) -> None:
    records = [
        *scenario(),
        call("b-avoid", at(1, 8), "voice", "no_answer"),  # a day older than b-avoid's newest: late
        ("call_attempt", b'{"event_id": "broken"'),  # not JSON: a dead letter
        # b-fine (partition 0, no open episode) is idle for 20 days when b-night's next attempt
        # moves partition 0's event-time watermark: the sweep deletes b-fine's state.
        call("b-night", at(21, 10), "voice", "answered"),
    ]
    worker = deployment.start_worker("w1", "--eviction-sweep", "0.5")
    deployment.send_in_order(records, worker)
    transitions = [t for borrower in EXPECTED.values() for t in borrower]
    deployment.alerts(len(transitions))

    samples = worker.metrics()

    def total(name: str, **labels: str) -> float:
        return sum(
            value
            for (sample, sample_labels), value in samples.items()
            if sample == name and labels.items() <= dict(sample_labels).items()
        )

    assert total("reachwatch_events_consumed_total") == len(records)
    assert total("reachwatch_events_consumed_total", topic=deployment.repayment_topic) == sum(
        kind == "repayment" for kind, _ in records
    )
    assert total("reachwatch_events_invalid_total", reason="not_json") == 1
    assert total("reachwatch_events_late_total") == 1
    assert total("reachwatch_events_duplicate_total") == 1
    by_transition = Counter(transitions)
    for (rule, state, severity), count in by_transition.items():
        assert total("reachwatch_alerts_total", rule=rule, state=state, severity=severity) == count
    assert total("reachwatch_alerts_total") == len(transitions)
    assert total("reachwatch_event_to_alert_delay_seconds_count") == len(transitions)
    assert total("reachwatch_engine_processing_seconds_count") >= 1
    assert total("reachwatch_state_evictions_total") == 1
    assert total("reachwatch_borrowers_tracked") == len(EXPECTED) - 1
    version = load_settings(None, env={}).engine.version
    assert total("reachwatch_config_info", version=version) == 1

    scraped = {name for name, _ in samples}
    deadline = time.monotonic() + 20  # commit-offset series appear after the first commit
    while referenced_metric_names() - scraped and time.monotonic() < deadline:
        time.sleep(0.5)
        scraped = {name for name, _ in worker.metrics()}
    absent = [n for n in METRIC_NAMES if n not in scraped and f"{n}_count" not in scraped
              and n not in SHADOW_METRIC_NAMES]  # fmt: skip
    assert not absent, f"documented series missing from /metrics: {absent}"
    missing = referenced_metric_names() - scraped
    assert not missing, f"dashboard/alert rules read series the worker does not expose: {missing}"
