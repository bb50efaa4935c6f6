"""Every alert and dead letter the engine really emits validates against its schema.

The schema tests elsewhere validate hand-built records; these validate what the batch step
produces from simulated populations (default and harsh delivery faults, both shipped presets)
and from docs/rules.md's worked examples, with the schemas as shipped (`streams.contracts`).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from jsonschema import Draft7Validator

from streams.contracts import schema
from streams.core.batch import BatchProcessor, InputRecord
from streams.core.config_loader import load_settings
from streams.tools.simulate import Simulation, parse_start
from tests.support.populations import FAULTS, KINDS, NOW, PRESETS
from tests.unit.core.engine.engine_events import Run, only
from tests.unit.core.engine.rules_examples import SCENARIOS


def validator(name: str) -> Draft7Validator:
    return Draft7Validator(schema(name), format_checker=Draft7Validator.FORMAT_CHECKER)


ALERT, DEAD_LETTER = validator("alert.v1"), validator("dead_letter.v1")


def problems(checker: Draft7Validator, record: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in checker.iter_errors(record)
    ]


@pytest.mark.parametrize("faults", sorted(FAULTS))
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_simulated_population_alerts_and_dead_letters_validate(preset: str, faults: str) -> None:
    engine = load_settings(PRESETS[preset], env={}).engine
    processor = BatchProcessor(engine, KINDS, require_key=True)
    simulation = Simulation(
        borrowers=150, days=20, seed=5, start=parse_start("2026-11-01"), faults=FAULTS[faults]
    )
    records = [InputRecord(r.kind, 0, n, r.key.encode(), r.value)
               for n, r in enumerate(simulation.records())]  # fmt: skip
    stored: dict[bytes, bytes] = {}
    alerts, letters = [], []
    for start in range(0, len(records), 500):
        result = processor.process(records[start : start + 500], lambda k, _: stored.get(k), NOW)
        for key, write in result.writes.items():
            stored[key] = write.value  # type: ignore[assignment]  # no eviction within a batch
        alerts += [orjson.loads(alert.encode(NOW)) for _, alert in result.alerts]
        letters += [orjson.loads(letter) for _, _, letter in result.dead_letters]

    rules_states = {(a["rule"], a["state"]) for a in alerts}
    assert ("unreachable_while_overdue", "raised") in rules_states  # the cases once invalid
    assert any(state == "resolved" for _, state in rules_states)
    if faults == "harsh":
        assert letters
    for alert in alerts:
        assert problems(ALERT, alert) == [], alert
    for letter in letters:
        assert problems(DEAD_LETTER, letter) == [], letter


@pytest.mark.parametrize(("rule", "rules", "events"),
                         [(rule, rules, events) for rule, _, rules, events in SCENARIOS],
                         ids=[scenario[0] for scenario in SCENARIOS])  # fmt: skip
def test_worked_example_alerts_validate(rule: str, rules: dict[str, object], events: list) -> None:
    run = Run(only(**rules))
    alerts = [alert for event in events for alert in run.feed(event)]
    assert any(alert.rule == rule for alert in alerts)
    for alert in alerts:
        record = alert.to_record(alert.event_time_ms)
        assert problems(ALERT, record) == [], record
