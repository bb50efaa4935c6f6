"""Hot reload on the real broker: a threshold changed under a running worker applies from the next
batch (new behaviour, new config_version, open episodes carried on); a broken file is refused
with one log line and a metric while the running config stays; a [kafka] change waits for a
restart. A challenger's file reloads the same way."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from streams.core.config_loader import load_settings
from tests.support.pipeline import Deployment, RunningWorker
from tests.support.scenario import at, call

EARLIER = """
[rules.consecutive_unanswered]
levels = [{ at = 4, severity = "warning" }, { at = 6, severity = "critical" }]
"""
BROKEN = """
[rules.consecutive_unanswered]
levels = [{ at = 0, severity = "warning" }]

[rules.low_contact_rate]
window = "soon"
"""


def misses(borrower: str, day: int, hours: range) -> list:
    return [call(borrower, at(day, hour), "voice", "no_answer") for hour in hours]


def metric(worker: RunningWorker, name: str, **labels: str) -> float:
    return sum(value for (sample, sample_labels), value in worker.metrics().items()
               if sample == name and labels.items() <= dict(sample_labels).items())  # fmt: skip


def wait_for(condition: Callable[[], bool], deployment: Deployment, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}\n{deployment.logs()}")
        time.sleep(0.2)


def seen(alerts: list[dict]) -> list[tuple[str, str, str, str]]:
    """consecutive_unanswered's (borrower, state, severity, config_version), sorted (partitions
    interleave); the 6th miss in a row also raises low_contact_rate, left out here."""
    return sorted((a["borrower_id"], a["state"], a["severity"], a["config_version"])
                  for a in alerts if a["rule"] == "consecutive_unanswered")  # fmt: skip


def reloads(worker: RunningWorker, result: str) -> float:
    return metric(worker, "reachwatch_config_reload_total", config="main", result=result)


def test_threshold_change_applies_and_broken_file_is_refused(deployment: Deployment) -> None:
    worker = deployment.start_worker("w1", "--reload-interval", "0.3")
    assert worker.config is not None
    original = worker.config.read_text()
    old_version = load_settings(worker.config, env={}).engine.version
    deployment.wait_ready(worker)
    # b-open: 5 misses raise under the defaults; b-new: 3 misses raise nothing yet
    deployment.send_in_order([*misses("b-open", 1, range(9, 14)),
                              *misses("b-new", 1, range(9, 12))], worker)  # fmt: skip
    assert seen(deployment.alerts(1)) == [("b-open", "raised", "warning", old_version)]

    # the ConfigMap-style swap: a new file renamed over the old one
    staged = worker.config.with_suffix(".new")
    staged.write_text(original + EARLIER)
    staged.replace(worker.config)
    new_version = load_settings(worker.config, env={}).engine.version
    wait_for(lambda: reloads(worker, "applied") == 1, deployment, "the reload applied")
    assert metric(worker, "reachwatch_config_info", version=new_version) == 1
    assert metric(worker, "reachwatch_config_info", version=old_version) == 0

    # b-new's 4th miss raises (the default needs 5); b-open's episode carries on and escalates
    # at its 6th miss (the default escalates at 10)
    deployment.send_in_order([*misses("b-new", 1, range(12, 13)),
                              *misses("b-open", 1, range(14, 15))], worker)  # fmt: skip
    assert seen(deployment.alerts(4)) == [("b-new", "raised", "warning", new_version),
                                          ("b-open", "escalated", "critical", new_version),
                                          ("b-open", "raised", "warning", old_version)]  # fmt: skip

    worker.config.write_text(original + BROKEN)
    wait_for(lambda: reloads(worker, "refused") == 1, deployment, "the refusal")
    refusals = [line for line in worker.log.read_text().splitlines()
                if "config reload refused" in line]  # fmt: skip
    assert len(refusals) == 1, deployment.logs()
    assert "rules.consecutive_unanswered.levels[0].at" in refusals[0]
    assert "rules.low_contact_rate.window" in refusals[0]
    assert re.search(rf"config_version {new_version} stays", refusals[0])
    assert metric(worker, "reachwatch_config_info", version=new_version) == 1
    # the running config goes on: b-new's 6th miss escalates under it (the default: at 10)
    deployment.send_in_order(misses("b-new", 1, range(13, 15)), worker)
    assert ("b-new", "escalated", "critical", new_version) in seen(deployment.alerts(6))

    worker.config.write_text(original.replace("partitions = 4", "partitions = 8") + EARLIER)
    wait_for(lambda: reloads(worker, "restart_required") == 1, deployment, "restart_required")
    assert metric(worker, "reachwatch_config_restart_required") == 1
    assert "kafka.partitions changed; not applied" in worker.log.read_text()
    assert reloads(worker, "applied") == 1  # same rules as running: nothing switched
    assert worker.process.poll() is None


def test_a_challenger_file_reloads_the_same_way(deployment: Deployment, tmp_path: Path) -> None:
    challenger = tmp_path / "early.toml"
    challenger.write_text(EARLIER)
    worker = deployment.start_worker("w1", "--reload-interval", "0.3",
                                     "--challenger", str(challenger))  # fmt: skip
    first = load_settings(challenger, env={}).engine.version
    deployment.wait_ready(worker)
    deployment.send_in_order(misses("b-1", 1, range(9, 13)), worker)  # 4 misses
    assert seen(deployment.alerts(1, shadow=True)) == [("b-1", "raised", "warning", first)]

    challenger.write_text(EARLIER.replace("at = 6", "at = 5"))
    second = load_settings(challenger, env={}).engine.version
    label = "challenger/early"

    def applied() -> bool:
        return metric(worker, "reachwatch_config_reload_total", config=label,
                      result="applied") == 1  # fmt: skip

    wait_for(applied, deployment, "the challenger's reload")
    assert metric(worker, "reachwatch_shadow_config_info", challenger="early", version=second) == 1
    assert metric(worker, "reachwatch_shadow_config_info", version=first) == 0
    deployment.send_in_order(misses("b-1", 1, range(13, 14)), worker)  # 5th: escalates now
    assert ("b-1", "escalated", "critical", second) in seen(deployment.alerts(2, shadow=True))

    challenger.write_text("[rules.consecutive_unanswered]\nlevels = []\n")
    refused = {"config": label, "result": "refused"}
    wait_for(lambda: metric(worker, "reachwatch_config_reload_total", **refused) == 1,
             deployment, "the challenger's refusal")  # fmt: skip
    assert "config reload refused: 1 problem(s): " in worker.log.read_text()
    assert metric(worker, "reachwatch_shadow_config_info", challenger="early", version=second) == 1
    assert worker.config is not None  # the main topic: the 5th miss under the defaults only
    main_version = load_settings(worker.config, env={}).engine.version
    assert seen(deployment.alerts(1)) == [("b-1", "raised", "warning", main_version)]
