"""BatchProcessor: the batch logic the worker and replay share, without Kafka."""

from __future__ import annotations

import orjson

from streams.core.batch import BatchProcessor, InputRecord
from streams.core.config import DAY_MS, EngineConfig

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
