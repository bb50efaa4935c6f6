"""One batch of input records through decode → engine → outputs, with no Faust or Kafka.

The worker hands this a batch of raw Kafka records, a way to read a borrower's stored state and
its clock (`received_at_ms`: the dead letters' time, and the bound that event times may pass by
at most `max_future_skew`; the engine itself never reads a clock). It gets back what to write
(one state per borrower per batch, so one changelog message per borrower per batch rather than
one per event), which alerts to publish in order, and which records go to the dead-letter topic.
Offline replay drives the very same class, so the worker and replay cannot disagree about alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from streams.core.config import EngineConfig
from streams.core.deadletter import dead_letter_record
from streams.core.decoding import DECODERS, Rejection
from streams.core.engine import Alert, BorrowerState, Disposition, apply, evict_if_idle
from streams.core.events import CallAttempt, Repayment

# (borrower key, partition) -> stored state: a partitioned store needs to know where to look.
StateLoader = Callable[[bytes, int], bytes | None]


class InputRecord(NamedTuple):
    """A Kafka record as read: where it came from and its untouched bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class StateWrite(NamedTuple):
    """The borrower's state after the batch: `value` None deletes it (a changelog tombstone)."""

    partition: int
    value: bytes | None


@dataclass(slots=True)
class BatchResult:
    writes: dict[bytes, StateWrite] = field(default_factory=dict)
    # (source partition, alert) and (source partition, key, record): under exactly-once each
    # output belongs to the transaction of the partition whose event caused it.
    alerts: list[tuple[int, Alert]] = field(default_factory=list)
    dead_letters: list[tuple[int, bytes | None, bytes]] = field(default_factory=list)
    consumed: Counter[str] = field(default_factory=Counter)  # by topic
    invalid: Counter[tuple[str, str]] = field(default_factory=Counter)  # by (topic, reason)
    late: Counter[str] = field(default_factory=Counter)
    duplicate: Counter[str] = field(default_factory=Counter)
    newest_event_ms: dict[int, int] = field(default_factory=dict)  # by partition


class BatchProcessor:
    """Applies the engine to batches; `kinds` maps each input topic to its event kind."""

    def __init__(
        self, config: EngineConfig, kinds: Mapping[str, str], *, require_key: bool
    ) -> None:
        self.config = config
        self.decoders = {topic: DECODERS[kind] for topic, kind in kinds.items()}
        self.require_key = require_key

    def decode(
        self, record: InputRecord, result: BatchResult, received_at_ms: int
    ) -> CallAttempt | Repayment | None:
        """The record's event, or None after counting it and queueing its dead letter."""
        topic = record.topic
        result.consumed[topic] += 1
        event = self.decoders[topic](
            record.value,
            record.key,
            require_key=self.require_key,
            latest_ms=received_at_ms + self.config.max_future_skew_ms,
        )
        if not isinstance(event, Rejection):
            return event
        result.invalid[topic, event.reason] += 1
        letter = dead_letter_record(
            raw=record.value,
            key=record.key,
            topic=topic,
            partition=record.partition,
            offset=record.offset,
            rejection=event,
            received_at_ms=received_at_ms,
        )
        result.dead_letters.append((record.partition, record.key, letter))
        return None

    def route(
        self, records: Iterable[InputRecord], received_at_ms: int
    ) -> tuple[BatchResult, list[tuple[str, bytes, bytes]]]:
        """The repartition step: valid records as (topic, borrower key, original value)."""
        result = BatchResult()
        routed = []
        for record in records:
            event = self.decode(record, result, received_at_ms)
            if event is not None and record.value is not None:
                routed.append((record.topic, event.borrower_id.encode(), record.value))
        return result, routed

    def process(
        self, records: Iterable[InputRecord], load: StateLoader, received_at_ms: int
    ) -> BatchResult:
        result = BatchResult()
        working: dict[bytes, BorrowerState | None] = {}
        partition_of: dict[bytes, int] = {}
        config = self.config
        for record in records:
            event = self.decode(record, result, received_at_ms)
            if event is None:
                continue
            topic = record.topic
            key = event.borrower_id.encode()
            if key in working:
                state = working[key]
            else:
                stored = load(key, record.partition)
                state = None if stored is None else BorrowerState.from_bytes(stored)
                if state is not None and evict_if_idle(state, event.at_ms, config) is None:
                    # Idle past idle_eviction: start afresh, exactly as if the sweep had
                    # already run, so alerts never depend on when the sweep happens to run.
                    state = None
            outcome = apply(state, event, config)
            if outcome.disposition is Disposition.APPLIED:
                working[key] = outcome.state
                partition_of[key] = record.partition
                result.alerts.extend((record.partition, alert) for alert in outcome.alerts)
                newest = result.newest_event_ms.get(record.partition, 0)
                if event.at_ms > newest:
                    result.newest_event_ms[record.partition] = event.at_ms
            elif outcome.disposition is Disposition.LATE:
                result.late[topic] += 1
            else:
                result.duplicate[topic] += 1
        result.writes = {
            key: StateWrite(partition_of[key], None if state is None else state.to_bytes())
            for key, state in working.items()
        }
        return result
