"""BatchProcessor: the batch logic the worker and replay share, without Kafka."""

from __future__ import annotations

import base64
from dataclasses import replace

import orjson
import pytest
from jsonschema import Draft7Validator

import streams.core.batch as batch_module
from streams.contracts import schema
from streams.core.batch import BatchProcessor, InputRecord, StateLoader
from streams.core.config import (
    DAY_MS,
    ConsecutiveUnansweredConfig,
    EngineConfig,
    RulesConfig,
    SeverityLevel,
)
from streams.core.engine import BorrowerState, Outcome, apply
from streams.core.events import CallAttempt, Repayment

CALLS, REPAYMENTS = "calls", "repayments"
DAY1 = "2026-11-02T10:{minute:02d}:00+08:00"
NOW = 1_796_083_200_000  # 2026-12-01T00:00:00Z, the worker's clock: after every event here


def attempt(event_id: str, borrower: str, when: str, outcome: str = "no_answer") -> dict:
    return {"event_id": event_id, "borrower_id": borrower, "attempted_at": when,
            "channel": "voice", "outcome": outcome}  # fmt: skip


def record(event: dict | bytes, partition: int = 0, offset: int = 0) -> InputRecord:
    if isinstance(event, bytes):
        return InputRecord(CALLS, partition, offset, b"b-1", event)
    key = event["borrower_id"].encode()
    return InputRecord(CALLS, partition, offset, key, orjson.dumps(event))


def processor() -> BatchProcessor:
    return BatchProcessor(EngineConfig(), {CALLS: "call_attempt", REPAYMENTS: "repayment"},
                          require_key=True)  # fmt: skip


def test_one_state_write_per_borrower_per_batch_and_alerts_tagged_with_their_partition() -> None:
    batch = [record(attempt(f"e{i}", "b-1", DAY1.format(minute=i)), 3, i) for i in range(5)]
    batch.append(record(attempt("x1", "b-2", DAY1.format(minute=9)), 1, 9))
    result = processor().process(batch, lambda key, partition: None, NOW)
    assert set(result.writes) == {b"b-1", b"b-2"}
    assert result.writes[b"b-1"].partition == 3
    assert all(write.value for write in result.writes.values())
    assert [(p, a.rule, a.state) for p, a in result.alerts] == [
        (3, "consecutive_unanswered", "raised")
    ]
    assert result.consumed[CALLS] == 6


def test_invalid_records_become_dead_letters_and_valid_ones_go_on() -> None:
    good = record(attempt("e1", "b-1", DAY1.format(minute=1)), 2, 7)
    result = processor().process([record(b"{oops", 2, 6), good], lambda k, p: None, NOW)
    assert [(p, key) for p, key, _ in result.dead_letters] == [(2, b"b-1")]
    letter = orjson.loads(result.dead_letters[0][2])
    assert (letter["reason"], letter["source_offset"]) == ("not_json", 6)
    assert set(result.writes) == {b"b-1"}


def test_a_borrower_idle_past_idle_eviction_starts_afresh_whether_swept_or_not() -> None:
    proc, store = processor(), {}
    first = [record(attempt(f"e{i}", "b-1", DAY1.format(minute=i))) for i in range(4)]
    for key, write in proc.process(first, lambda k, p: None, NOW).writes.items():
        store[key] = write.value
    later = DAY1.replace("2026-11-02", "2026-11-17").format(minute=0)  # 15 days on
    result = proc.process([record(attempt("e9", "b-1", later))], lambda k, p: store.get(k), NOW)
    assert result.alerts == []  # the 4 old unanswered attempts no longer count: run is 1
    assert EngineConfig().idle_eviction_ms < 15 * DAY_MS


def placed_on(partition: int):
    """A placement that puts every key on `partition` (the real hash is the shell's)."""
    return lambda topic, key: partition


def placing_processor(partition: int) -> BatchProcessor:
    return BatchProcessor(EngineConfig(), {CALLS: "call_attempt", REPAYMENTS: "repayment"},
                          require_key=True, placement=placed_on(partition))  # fmt: skip


def test_a_record_off_its_keys_partition_is_dead_lettered_whole_and_not_applied() -> None:
    misplaced = record(attempt("e1", "b-1", DAY1.format(minute=1)), 1, 40)
    placed = record(attempt("e2", "b-2", DAY1.format(minute=2)), 0, 41)
    result = placing_processor(0).process([misplaced, placed], lambda k, p: None, NOW)

    assert result.misrouted == {(CALLS, 1): 1}
    assert result.invalid == {(CALLS, "wrong_partition"): 1}
    assert set(result.writes) == {b"b-2"}  # b-1 gets no second state on partition 1
    [(partition, key, letter)] = result.dead_letters
    assert (partition, key) == (1, b"b-1")
    dead = orjson.loads(letter)
    Draft7Validator(schema("dead_letter.v1")).validate(dead)
    assert (dead["reason"], dead["source_topic"], dead["source_partition"],
            dead["source_offset"]) == ("wrong_partition", CALLS, 1, 40)  # fmt: skip
    assert base64.b64decode(dead["value_base64"]) == misplaced.value
    assert "partition 1" in dead["detail"]
    assert "partition 0" in dead["detail"]
    assert "b-1" not in dead["detail"]


def test_invalid_content_is_reported_before_the_partition() -> None:
    broken = InputRecord(CALLS, 1, 5, b"b-1", b"{oops")
    result = placing_processor(0).process([broken], lambda k, p: None, NOW)
    assert result.invalid == {(CALLS, "not_json"): 1}
    assert not result.misrouted


def test_routing_counts_misplaced_keyed_records_and_still_routes_them() -> None:
    router = BatchProcessor(EngineConfig(), {CALLS: "call_attempt"}, require_key=False,
                            placement=placed_on(0))  # fmt: skip
    keyed = record(attempt("e1", "b-1", DAY1.format(minute=1)), 2, 0)
    unkeyed = keyed._replace(key=None, offset=1)
    keyed_otherwise = keyed._replace(key=b"loan-7", offset=2)  # its own key's partition
    result, routed = router.route([keyed, unkeyed, keyed_otherwise], NOW)
    assert result.misrouted == {(CALLS, 2): 1}  # only a record keyed by its borrower can miss
    assert [(topic, key) for topic, key, _ in routed] == [(CALLS, b"b-1")] * 3
    assert not result.dead_letters


def test_without_a_placement_partitions_are_not_checked() -> None:
    """Replay's case: its records stand for events, not for Kafka coordinates."""
    off = record(attempt("e1", "b-1", DAY1.format(minute=1)), 3, 0)
    result = processor().process([off], lambda k, p: None, NOW)
    assert not result.misrouted
    assert not result.dead_letters
    assert set(result.writes) == {b"b-1"}


def test_a_borrower_rebuilt_after_a_failure_still_leaves_out_its_misplaced_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The failure path re-applies the borrower's earlier records; the dead-lettered
    misplaced one must stay out of the state, as it did the first time."""
    events = [attempt(f"e{i}", "b-1", DAY1.format(minute=i)) for i in range(4)]
    placed = [record(events[0], 0, 0), record(events[2], 0, 2)]
    misplaced, failing = record(events[1], 1, 1), record(events[3], 0, 3)
    expected = placing_processor(0).process(placed, lambda k, p: None, NOW)

    def fragile_apply(
        state: BorrowerState | None, event: CallAttempt | Repayment, config: EngineConfig
    ) -> Outcome:
        if event.event_id == "e3":
            raise ZeroDivisionError("injected fault")
        return apply(state, event, config)

    monkeypatch.setattr(batch_module, "apply", fragile_apply)
    batch = [placed[0], misplaced, placed[1], failing]
    result = placing_processor(0).process(batch, lambda k, p: None, NOW)

    assert result.writes == expected.writes
    assert result.invalid == {(CALLS, "wrong_partition"): 1, (CALLS, "processing_error"): 1}


# --- challengers: one decode, an engine pass per config ----------------------------------------

STRICT = replace(
    EngineConfig(version="strict"),
    rules=replace(
        RulesConfig(),
        consecutive_unanswered=ConsecutiveUnansweredConfig(levels=(SeverityLevel(3, "warning"),)),
    ),
)
KINDS = {CALLS: "call_attempt", REPAYMENTS: "repayment"}


def mixed_batch() -> list[InputRecord]:
    """Two borrowers on two partitions, a duplicate and a malformed record."""
    batch = [record(attempt(f"e{i}", "b-1", DAY1.format(minute=i)), 3, i) for i in range(6)]
    batch += [record(attempt("x1", "b-2", DAY1.format(minute=9), "answered"), 1, 9)]
    batch += [record(attempt("e2", "b-1", DAY1.format(minute=2)), 3, 10), record(b"{oops", 3, 11)]
    return batch


def loader(store: dict[bytes, bytes]) -> StateLoader:
    return lambda key, partition: store.get(key)


def test_each_challenger_gets_what_its_config_alone_would_give() -> None:
    """The shadow pass over shared decoded events equals a processor of that config alone."""
    configs = (EngineConfig(version="main"), STRICT, EngineConfig(version="same"))
    shared = BatchProcessor(configs[0], KINDS, require_key=True, challengers=configs[1:])
    alone = [BatchProcessor(config, KINDS, require_key=True) for config in configs]
    stores: list[dict[bytes, bytes]] = [{}, {}, {}]
    alone_stores: list[dict[bytes, bytes]] = [{}, {}, {}]
    raised_at: list[list[str]] = [[], [], []]
    for batch in (mixed_batch()[:4], mixed_batch()[4:]):
        loads = [loader(store) for store in stores]
        result = shared.process(batch, loads[0], NOW, loads[1:])
        lanes = [result, *result.shadows]
        for index, (proc, store) in enumerate(zip(alone, alone_stores, strict=True)):
            expected = proc.process(batch, loader(store), NOW)
            lane = lanes[index]
            fields = ("alerts", "writes", "late", "duplicate", "newest_event_ms", "consumed",
                      "invalid", "dead_letters")  # fmt: skip
            for name in fields:
                assert getattr(lane, name) == getattr(expected, name), (index, name)
            store.update({key: write.value for key, write in expected.writes.items()})
            stores[index].update({key: write.value for key, write in lane.writes.items()})
            raised_at[index] += [f"{a.config_version}:{a.rule}:{a.episode_key}"
                                 for _, a in lane.alerts if a.state == "raised"]  # fmt: skip
    unanswered = [[a for a in lane if ":consecutive_unanswered:" in a] for lane in raised_at]
    # the strict config raises on the 3rd unanswered attempt (first batch), the default on the
    # 5th (second batch)
    assert unanswered[1] == ["strict:consecutive_unanswered:e2"], raised_at
    assert unanswered[0] == ["main:consecutive_unanswered:e4"], raised_at
    assert [a.replace("same:", "main:") for a in raised_at[2]] == raised_at[0]


def test_records_are_decoded_and_dead_lettered_once_whatever_the_challengers() -> None:
    shared = BatchProcessor(EngineConfig(), KINDS, require_key=True, challengers=[STRICT, STRICT])
    result = shared.process(mixed_batch(), lambda k, p: None, NOW, [lambda k, p: None] * 2)
    assert result.consumed[CALLS] == len(mixed_batch())
    assert len(result.dead_letters) == 1
    assert [shadow.duplicate[CALLS] for shadow in result.shadows] == [1, 1]
    assert result.shadows[0].alerts == result.shadows[1].alerts


def test_a_loader_is_needed_for_every_challenger() -> None:
    shared = BatchProcessor(EngineConfig(), KINDS, require_key=True, challengers=[STRICT])
    with pytest.raises(ValueError, match="1 challengers but 0 state loaders"):
        shared.process(mixed_batch(), lambda k, p: None, NOW)


def test_a_cached_state_changed_by_a_failing_apply_is_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine updates states in place, so an apply that raises half-way leaves the cached
    object changed; the rebuild must start from the stored bytes, exactly as without a cache."""
    events = [attempt(f"e{i}", "b-1", DAY1.format(minute=i)) for i in range(8)]

    def half_done_apply(
        state: BorrowerState | None, event: CallAttempt | Repayment, config: EngineConfig
    ) -> Outcome:
        outcome = apply(state, event, config)  # the state is already changed
        if event.event_id == "e5":
            raise ZeroDivisionError("injected fault")
        return outcome

    monkeypatch.setattr(batch_module, "apply", half_done_apply)
    outputs = []
    for cache_borrowers in (0, 10):
        processor = BatchProcessor(EngineConfig(), KINDS, require_key=True,
                                   cache_borrowers=cache_borrowers)  # fmt: skip
        store: dict[bytes, bytes] = {}
        results = []
        for first in (0, 4):  # the second batch starts from the first one's cached state
            result = processor.process([record(e, 0, first + n) for n, e in
                                        enumerate(events[first : first + 4])],
                                       loader(store), NOW)  # fmt: skip
            store.update({key: write.value for key, write in result.writes.items()})  # type: ignore[misc]
            results.append(result)
        cache = processor.caches[0]
        assert cache is None or cache.hits == 1
        outputs.append([(r.writes, [a.encode(NOW) for _, a in r.alerts], r.invalid)
                        for r in results])  # fmt: skip
    assert outputs[0] == outputs[1]
    assert outputs[0][1][2] == {(CALLS, "processing_error"): 1}
