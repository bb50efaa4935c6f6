"""Champion/challenger on the real broker: a challenger changes nothing on the alert topic, and
its shadow alerts are exactly what `replay` gives with the challenger's config."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from streams.core.config_loader import load_settings
from streams.tools.replay import replay_records
from streams.worker.metrics import SHADOW_METRIC_NAMES
from tests.integration.test_pipeline import (
    assert_same_as_replay,
    differences,
    expected_count,
    per_borrower,
    transitions,
    without_emitted_at,
)
from tests.support.pipeline import Deployment, EventRecord
from tests.support.scenario import EXPECTED, scenario

# Raises consecutive_unanswered on the 3rd attempt and active_avoidance on the 2nd: the
# scenario's borrowers alert earlier and more often than under the defaults.
CHALLENGER = """\
[rules.consecutive_unanswered]
levels = [{ at = 3, severity = "warning" }, { at = 6, severity = "critical" }]

[rules.active_avoidance]
min_avoidance = 2
"""


def replayed_with(path: Path, records: list[EventRecord]) -> list[dict]:
    lines = [orjson.dumps({"kind": kind, "event": event}) for kind, event in records]
    engine = load_settings(path, env={}).engine
    return [alert.to_record(0) for alert in replay_records(lines, engine)]


def test_a_challenger_leaves_the_main_topic_alone_and_its_shadow_equals_replay(
    deployment: Deployment, tmp_path: Path
) -> None:
    challenger = tmp_path / "early.toml"
    challenger.write_text(CHALLENGER)
    records = scenario()
    expected_shadow = replayed_with(challenger, records)
    assert transitions(expected_shadow) != EXPECTED  # the challenger really differs

    worker = deployment.start_worker("w1", "--challenger", str(challenger))
    deployment.send_in_order(records, worker)

    alerts = deployment.alerts(expected_count())
    assert transitions(alerts) == EXPECTED, deployment.logs()
    assert_same_as_replay(alerts, records)  # what the worker gives without a challenger

    shadow = deployment.alerts(len(expected_shadow), shadow=True)
    worker_shadow = per_borrower(without_emitted_at(shadow))
    replay_shadow = per_borrower(without_emitted_at(expected_shadow))
    assert worker_shadow == replay_shadow, differences(worker_shadow, replay_shadow)
    version = load_settings(challenger, env={}).engine.version
    assert {alert["config_version"] for alert in shadow} == {version}
    assert all(alert["_key"] == alert["borrower_id"] for alert in shadow)

    samples = worker.metrics()
    counted: Counter[tuple[str, ...]] = Counter()
    for (name, labels), value in samples.items():
        if name == "reachwatch_shadow_alerts_total":
            label = dict(labels)
            key = (label["rule"], label["state"], label["config_version"], label["challenger"])
            counted[key] += int(value)
    assert counted == Counter((a["rule"], a["state"], version, "early") for a in shadow)
    info = [dict(labels) for (name, labels), value in samples.items()
            if name == "reachwatch_shadow_config_info" and value == 1]  # fmt: skip
    assert [(i["challenger"], i["version"]) for i in info] == [("early", version)]
    assert {name for name, _ in samples} >= set(SHADOW_METRIC_NAMES)
    main_version = load_settings(None, env={}).engine.version
    assert all(labels != () for (name, labels) in samples if name == "reachwatch_alerts_total")
    assert sum(v for (n, _), v in samples.items() if n == "reachwatch_alerts_total") == len(alerts)
    assert {alert["config_version"] for alert in alerts} == {main_version}
