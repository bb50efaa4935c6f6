"""BatchProcessor under arbitrary input: it never raises, accounts for every record exactly
once (applied, late, duplicate, or dead-lettered), and every output fits a Kafka message.

Records are arbitrary bytes, or events whose fields sit at, just inside and just beyond their
bounds (the agreement test's generators), for a handful of borrowers so that states build up
across records and batches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.batch import MAX_STATE_BYTES, BatchProcessor, BatchResult, InputRecord
from streams.core.config import EngineConfig
from tests.unit.core.test_decoding_agreement import (
    CALL_ATTEMPT_BAD_VALUES,
    CALL_ATTEMPTS,
    REPAYMENT_BAD_VALUES,
    REPAYMENTS,
    mutated,
)
from tests.unit.core.test_hostile_input import NOW, OUTPUT_BOUND
from tests.unit.core.test_output_contract import ALERT, DEAD_LETTER, problems

TOPICS = {"calls": "call_attempt", "repayments": "repayment"}
BORROWERS = ["b-1", "b-2", "界" * 128, "b-" + "x" * 126]


def as_record(topic: str, doc: Any, borrower: str | None, keyed: bool) -> tuple[str, bytes, bytes]:
    """A document for one of a few borrowers (so states build up), keyed like a producer would."""
    if isinstance(doc, dict) and borrower is not None:
        doc = {**doc, "borrower_id": borrower}
    key = str(doc.get("borrower_id", "")) if isinstance(doc, dict) and keyed else "other"
    return topic, key.encode(), orjson.dumps(doc)


# Times in the month before NOW, so that events apply and interact rather than being refused.
RECENT = st.datetimes(datetime(2026, 11, 1), datetime(2026, 11, 30)).map(
    lambda moment: moment.isoformat(timespec="seconds") + "Z"
)
RECENT_CALLS = st.builds(lambda doc, when: doc | {"attempted_at": when}, CALL_ATTEMPTS, RECENT)
RECENT_REPAYMENTS = st.builds(lambda doc, when: doc | {"occurred_at": when}, REPAYMENTS, RECENT)

EVENTS = st.one_of(
    st.builds(as_record, st.just("calls"), mutated(CALL_ATTEMPTS, CALL_ATTEMPT_BAD_VALUES),
              st.none() | st.sampled_from(BORROWERS), st.booleans()),
    st.builds(as_record, st.just("repayments"), mutated(REPAYMENTS, REPAYMENT_BAD_VALUES),
              st.none() | st.sampled_from(BORROWERS), st.booleans()),
    st.builds(as_record, st.just("calls"), RECENT_CALLS, st.sampled_from(BORROWERS),
              st.just(True)),
    st.builds(as_record, st.just("calls"), RECENT_CALLS, st.sampled_from(BORROWERS),
              st.just(True)),
    st.builds(as_record, st.just("repayments"), RECENT_REPAYMENTS, st.sampled_from(BORROWERS),
              st.just(True)),
    st.tuples(st.sampled_from(sorted(TOPICS)), st.binary(max_size=64), st.binary(max_size=300)),
)  # fmt: skip
BATCHES = st.lists(st.lists(EVENTS, min_size=1, max_size=25), min_size=1, max_size=3)


def check(result: BatchResult, records: list[InputRecord]) -> None:
    consumed = result.consumed.total()
    assert consumed == len(records)
    accounted = (result.applied.total() + result.late.total() + result.duplicate.total()
                 + result.invalid.total())  # fmt: skip
    assert accounted == consumed
    assert len(result.dead_letters) == result.invalid.total()
    for _, alert in result.alerts:
        body = alert.encode(NOW)
        assert len(body) + len(alert.borrower_id.encode()) < OUTPUT_BOUND
        assert problems(ALERT, orjson.loads(body)) == []
    for _, key, letter in result.dead_letters:
        assert len(letter) + len(key or b"") < OUTPUT_BOUND
        assert problems(DEAD_LETTER, orjson.loads(letter)) == []
    for key, write in result.writes.items():
        assert write.value is None or len(key) + len(write.value) <= MAX_STATE_BYTES


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=BATCHES)
def test_any_input_is_accounted_for_and_every_output_fits(
    batches: list[list[tuple[str, bytes, bytes]]],
) -> None:
    processor = BatchProcessor(EngineConfig(), TOPICS, require_key=True)
    stored: dict[bytes, bytes] = {}
    offset = 0
    for batch in batches:
        records = []
        for topic, key, value in batch:
            records.append(InputRecord(topic, 0, offset, key, value))
            offset += 1
        result = processor.process(records, lambda k, _: stored.get(k), NOW)
        check(result, records)
        for key, write in result.writes.items():
            if write.value is not None:
                stored[key] = write.value
