"""What `reachwatch topics create` asks the broker for."""

from __future__ import annotations

from dataclasses import replace

from streams.core.config import DAY_MS, INPUT_RETENTION_MS
from streams.core.config_loader import load_settings
from streams.worker.topics import topic_specs


def retention(settings_kafka_retention_ms: int | None = None) -> dict[str, str]:
    settings = load_settings(None, env={})
    if settings_kafka_retention_ms is not None:
        kafka = replace(settings.kafka, dead_letter_retention_ms=settings_kafka_retention_ms)
        settings = replace(settings, kafka=kafka)
    return {spec.name: spec.topic_configs.get("retention.ms", "") for spec in topic_specs(settings)}


def test_dead_letters_are_kept_no_longer_than_inputs_by_default() -> None:
    kafka = load_settings(None, env={}).kafka
    kept = retention()
    assert kept[kafka.call_topic] == kept[kafka.repayment_topic] == str(INPUT_RETENTION_MS)
    assert int(kept[kafka.dead_letter_topic]) <= int(kept[kafka.call_topic])


def test_dead_letter_retention_follows_the_config() -> None:
    kafka = load_settings(None, env={}).kafka
    assert retention(3 * DAY_MS)[kafka.dead_letter_topic] == str(3 * DAY_MS)


def specs(*challengers: str) -> dict[str, dict[str, str]]:
    settings = load_settings(None, env={"REACHWATCH_KAFKA__APP_ID": "rw"})
    return {spec.name: spec.topic_configs for spec in topic_specs(settings, challengers)}


def test_without_challengers_no_shadow_topics() -> None:
    names = set(specs())
    assert not any("shadow" in name for name in names)
    assert specs()["rw-borrowers-changelog"]["cleanup.policy"] == "compact"


def test_challengers_add_the_shadow_topic_and_a_compacted_changelog_each() -> None:
    found = specs("early", "late")
    assert found["collections.unreachability-alerts.shadow.v1"]["cleanup.policy"] == "delete"
    for name in ("early", "late"):
        assert found[f"rw-borrowers-shadow-{name}-changelog"]["cleanup.policy"] == "compact"
    assert len(found) == len(specs()) + 3
