"""Hostile input through the batch step and replay: never a crash, never harm to others.

The extreme records (tests/support/extremes.py) are mixed into the scripted scenario; the
scenario's borrowers must get exactly the alerts they get without them, each extreme record one
dead letter with its reason, and every output must fit a Kafka message with room to spare.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.core import batch as batch_module
from streams.core.batch import BatchProcessor, BatchResult, InputRecord
from streams.core.config import EngineConfig
from streams.core.engine import BorrowerState, apply
from streams.core.events import CallAttempt, Repayment
from tests.support.extremes import EXTREMES, POINTS_BORROWER, interleaved
from tests.support.pipeline import EventRecord
from tests.support.scenario import EXPECTED, at, scenario
from tests.unit.core.test_output_contract import ALERT, DEAD_LETTER, problems

NOW = 1_796_083_200_000  # 2026-12-01T00:00:00Z: after every scenario event
# Kafka's defaults: the producer's max.request.size 1,000,000 bytes, the broker's
# message.max.bytes 1 MiB. Outputs must stay well below.
OUTPUT_BOUND = 800_000
KINDS = {"call_attempt": "call_attempt", "repayment": "repayment"}


def input_records(records: list[EventRecord]) -> list[InputRecord]:
    """As the worker reads them: keyed by borrower_id, malformed bodies keyed like a real one."""
    out = []
    for offset, (kind, event) in enumerate(records):
        if isinstance(event, dict):
            key, value = str(event["borrower_id"]).encode(), orjson.dumps(event)
        else:
            key, value = b"b-avoid", event.encode() if isinstance(event, str) else event
        out.append(InputRecord(kind, 0, offset, key, value))
    return out


class Store:
    """A memory table: states written after each batch, read by the next."""

    def __init__(self) -> None:
        self.states: dict[bytes, bytes] = {}

    def load(self, key: bytes, _partition: int) -> bytes | None:
        return self.states.get(key)

    def run(
        self, processor: BatchProcessor, records: list[InputRecord], batch_size: int
    ) -> list[BatchResult]:
        results = []
        for start in range(0, len(records), batch_size):
            result = processor.process(records[start : start + batch_size], self.load, NOW)
            for key, write in result.writes.items():
                if write.value is None:
                    self.states.pop(key, None)
                else:
                    self.states[key] = write.value
            results.append(result)
        return results


def alerts_of(results: list[BatchResult], borrowers: set[str]) -> list[bytes]:
    return [alert.encode(0) for result in results for _, alert in result.alerts
            if alert.borrower_id in borrowers]  # fmt: skip


def assert_outputs_fit(results: list[BatchResult], store: Store) -> None:
    """Each output under the bound, and valid against its schema."""
    for result in results:
        for _, alert in result.alerts:
            assert len(alert.encode(NOW)) + len(alert.borrower_id) < OUTPUT_BOUND
            assert problems(ALERT, orjson.loads(alert.encode(NOW))) == []
        for _, key, letter in result.dead_letters:
            assert len(letter) + len(key or b"") < OUTPUT_BOUND
            assert problems(DEAD_LETTER, orjson.loads(letter)) == []
    assert all(len(key) + len(value) < OUTPUT_BOUND for key, value in store.states.items())


@pytest.mark.parametrize("batch_size", [1, 7, 10_000])
def test_extreme_records_are_dead_lettered_and_harm_no_one(batch_size: int) -> None:
    processor = BatchProcessor(EngineConfig(), KINDS, require_key=True)
    plain_store, mixed_store = Store(), Store()
    records = scenario()  # event ids are numbered per call: one list for both runs
    plain = plain_store.run(processor, input_records(records), batch_size)
    mixed_records = input_records(interleaved(records))
    mixed = mixed_store.run(processor, mixed_records, batch_size)

    assert alerts_of(mixed, set(EXPECTED)) == alerts_of(plain, set(EXPECTED))
    for borrower in EXPECTED:
        key = borrower.encode()
        assert mixed_store.states.get(key) == plain_store.states.get(key), borrower
    letters = [orjson.loads(letter) for result in mixed for _, _, letter in result.dead_letters]
    by_offset = {letter["source_offset"]: letter["reason"] for letter in letters}
    extremes = [record for record, _ in EXTREMES]
    for (record, reason), offset in zip(EXTREMES, _offsets(mixed_records, extremes), strict=True):
        assert by_offset.pop(offset, "applied") == reason, str(record[1])[:200]
    assert by_offset == {}, "no dead letter for a scenario record"
    assert_outputs_fit(mixed, mixed_store)


def _offsets(records: list[InputRecord], extremes: list[EventRecord]) -> list[int]:
    """Where each extreme record went in the mixed input (by its exact bytes, in order)."""
    wanted = input_records(extremes)
    offsets, start = [], 0
    for extreme in wanted:
        offset = next(r.offset for r in records[start:] if r.value == extreme.value)
        offsets.append(offset)
        start = offset + 1
    return offsets


def test_a_contact_point_over_the_limit_is_refused_but_known_points_go_on() -> None:
    processor = BatchProcessor(EngineConfig(), KINDS, require_key=True)
    store = Store()
    points = [
        record
        for record, _ in EXTREMES
        if isinstance(record[1], dict) and record[1]["borrower_id"] == POINTS_BORROWER
    ]
    again = dict(points[0][1], event_id="x-again", attempted_at=points[-1][1]["attempted_at"])
    results = store.run(processor, input_records([*points, ("call_attempt", again)]), 100)
    letters = [orjson.loads(letter) for _, _, letter in results[0].dead_letters]
    assert [(letter["reason"], letter["source_offset"]) for letter in letters] == [
        ("contact_point_limit", len(points) - 1)
    ]
    assert results[0].invalid["call_attempt", "contact_point_limit"] == 1
    state = BorrowerState.from_bytes(store.states[POINTS_BORROWER.encode()])
    assert len(set(state.points)) == 16
    assert state.ids[-1] == "x-again"


def _raising_for(event_id: str) -> Callable[..., object]:
    def fragile_apply(
        state: BorrowerState | None, event: CallAttempt | Repayment, config: EngineConfig
    ) -> object:
        if event.event_id == event_id:
            raise ZeroDivisionError("injected fault")
        return apply(state, event, config)

    return fragile_apply


@pytest.mark.parametrize("batch_size", [1, 5, 100])
def test_a_record_whose_application_raises_is_dead_lettered_and_never_happened(
    batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine raises for one of b-silent's attempts in the middle of its run; b-silent's
    alerts and state must be those of a run without that attempt, everyone else's unchanged."""
    records = scenario()
    silent = [n for n, (_, event) in enumerate(records)
              if isinstance(event, dict) and event["borrower_id"] == "b-silent"]  # fmt: skip
    victim = records[silent[3]]
    assert isinstance(victim[1], dict)
    processor = BatchProcessor(EngineConfig(), KINDS, require_key=True)
    expected_store = Store()
    expected = expected_store.run(
        processor, input_records([r for r in records if r is not victim]), batch_size
    )

    monkeypatch.setattr(batch_module, "apply", _raising_for(victim[1]["event_id"]))
    store = Store()
    results = store.run(processor, input_records(records), batch_size)

    everyone = set(EXPECTED)
    assert alerts_of(results, everyone) == alerts_of(expected, everyone)
    assert store.states == expected_store.states
    letters = [orjson.loads(letter) for result in results for _, _, letter in result.dead_letters]
    errors = [letter for letter in letters if letter["reason"] == "processing_error"]
    assert len(errors) == 1
    assert errors[0]["source_offset"] == silent[3]
    assert "ZeroDivisionError: injected fault" in errors[0]["detail"]
    assert sum(r.invalid["call_attempt", "processing_error"] for r in results) == 1
    for result in results:  # every record applied, late, duplicate or dead-lettered, once
        counted = result.applied + result.late + result.duplicate
        assert counted.total() + result.invalid.total() == result.consumed.total()
    expected_counts = sum((r.applied + r.late + r.duplicate for r in expected), Counter())
    assert sum((r.applied + r.late + r.duplicate for r in results), Counter()) == expected_counts


def test_a_record_that_would_make_the_state_too_large_is_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the state limit set to the largest b-silent's state gets, one more attempt (with the
    longest id there may be) is refused, while the batch's other records are applied."""
    records = [
        r for r in scenario() if isinstance(r[1], dict) and r[1]["borrower_id"] == "b-silent"
    ]
    last = records[-1][1]
    assert isinstance(last, dict)
    long_id = last | {"event_id": "L" * 128, "attempted_at": at(5, 19)}
    with_long = [*records, ("call_attempt", long_id)]
    without_long = records
    processor = BatchProcessor(EngineConfig(), KINDS, require_key=True)
    expected_store = Store()
    expected = expected_store.run(processor, input_records(without_long), 1)
    limit = max(len(w.value or b"") for result in expected for w in result.writes.values())
    monkeypatch.setattr(batch_module, "MAX_STATE_BYTES", limit)

    store = Store()
    results = store.run(processor, input_records(with_long), 100)

    assert store.states == expected_store.states
    assert alerts_of(results, {"b-silent"}) == alerts_of(expected, {"b-silent"})
    letters = [orjson.loads(letter) for _, _, letter in results[0].dead_letters]
    assert [(x["reason"], x["source_offset"]) for x in letters] == [
        ("processing_error", len(records))
    ]
    assert "StateTooLarge" in letters[0]["detail"]
    assert results[0].applied == sum((r.applied for r in expected), Counter())


def test_replay_of_a_file_with_extreme_records_exits_0_and_normal_borrowers_get_their_alerts(
    tmp_path: Path,
) -> None:
    def event_file(name: str, records: list[EventRecord]) -> Path:
        path = tmp_path / name
        lines = []
        for kind, event in records:
            try:
                text = event.decode() if isinstance(event, bytes) else event
            except UnicodeDecodeError:
                continue  # an event file is text: such a record cannot be written in one
            lines.append(orjson.dumps({"kind": kind, "event": text}))
        path.write_bytes(b"\n".join(lines) + b"\n")
        return path

    def replay(path: Path) -> list[dict]:
        result = CliRunner().invoke(main, ["replay", str(path), "--now", "2026-12-01"])
        assert result.exit_code == 0, result.output
        alerts = [orjson.loads(line) for line in result.stdout.splitlines()]
        return [alert for alert in alerts if alert["borrower_id"] in EXPECTED]

    records = scenario()
    plain = replay(event_file("plain.jsonl", records))
    mixed = replay(event_file("mixed.jsonl", interleaved(records)))
    assert mixed == plain
    assert len(plain) == sum(len(alerts) for alerts in EXPECTED.values())
