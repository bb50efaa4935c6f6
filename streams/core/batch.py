"""One batch of input records through decode → engine → outputs, with no Faust or Kafka.

The worker hands this a batch of raw Kafka records, a way to read a borrower's stored state and
its clock (`received_at_ms`: the dead letters' time, and the bound that event times may pass by
at most `max_future_skew`; the engine itself never reads a clock). It gets back what to write
(one state per borrower per batch, so one changelog message per borrower per batch rather than
one per event), which alerts to publish in order, and which records go to the dead-letter topic.
Offline replay drives the very same class, so the worker and replay cannot disagree about alerts.

Challenger configs (champion/challenger) ride along: each record is decoded once, then every
engine config runs over the same decoded events with its own stored states, so a challenger
costs an engine pass and its state writes, not a second decode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from streams.core.config import EngineConfig
from streams.core.deadletter import dead_letter_key, dead_letter_record
from streams.core.decoding import CALL_ATTEMPT, DECODERS, REPAYMENT, Rejection, RejectReason
from streams.core.engine import Alert, BorrowerState, Disposition, apply, evict_if_idle
from streams.core.engine.core import MAX_CONTACT_POINTS
from streams.core.events import CallAttempt, Repayment
from streams.core.state_cache import StateCache

# Kafka's default message.max.bytes and the producer's max.request.size are 1 MiB; a state this
# size leaves room for the key and the record batch. With the default config and the decoder's
# bounds a state cannot get near it; a larger max_attempts_kept could.
MAX_STATE_BYTES = 512 * 1024

# (borrower key, partition) -> stored state: a partitioned store needs to know where to look.
StateLoader = Callable[[bytes, int], bytes | None]
# (topic, key) -> the partition Kafka's default partitioner gives `key` on `topic`. The shell
# supplies it (the hash belongs to the Kafka client library); replay, which has no partitions,
# supplies none.
Placement = Callable[[str, bytes], int]


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
    applied: Counter[str] = field(default_factory=Counter)
    late: Counter[str] = field(default_factory=Counter)
    duplicate: Counter[str] = field(default_factory=Counter)
    newest_event_ms: dict[int, int] = field(default_factory=dict)  # by partition
    # valid keyed records not on their key's partition, by (topic, partition they were on)
    misrouted: Counter[tuple[str, int]] = field(default_factory=Counter)
    # One result per challenger, in order: what its engine made of the batch, with the shared
    # decoding outcome (decoding, max_future_skew and partition checks follow the champion's
    # processor); the worker publishes only their alerts and states.
    shadows: list[BatchResult] = field(default_factory=list)


# (index in the batch, record, event) of each record that decoded, on its partition
Decoded = tuple[int, InputRecord, CallAttempt | Repayment]


class BatchProcessor:
    """Applies the engine to batches; `kinds` maps each input topic to its event kind.

    With a `placement`, a record whose key belongs on another partition is caught: a borrower's
    state lives in its key's partition, and applying the record where it is would start a
    second state for that borrower there, so its events would never meet. `process`
    dead-letters such records (`wrong_partition`); `route`, whose output is re-keyed anyway,
    only counts them.

    With `cache_borrowers`, each config keeps that many decoded states between batches
    (`StateCache`); only a caller whose store keeps the states this step writes should ask for
    it (a cache entry is used only while the store holds the very bytes it was written as)."""

    def __init__(
        self,
        config: EngineConfig,
        kinds: Mapping[str, str],
        *,
        require_key: bool,
        placement: Placement | None = None,
        challengers: Sequence[EngineConfig] = (),
        cache_borrowers: int = 0,
    ) -> None:
        self.config = config
        self.challengers = tuple(challengers)
        self.caches = [StateCache(cache_borrowers) if cache_borrowers else None
                       for _ in range(1 + len(self.challengers))]  # fmt: skip
        self.decoders = {topic: DECODERS[kind] for topic, kind in kinds.items()}
        self.require_key = require_key
        self.placement = placement

    def decoded(
        self, record: InputRecord, received_at_ms: int
    ) -> CallAttempt | Repayment | Rejection:
        return self.decoders[record.topic](
            record.value,
            record.key,
            require_key=self.require_key,
            latest_ms=received_at_ms + self.config.max_future_skew_ms,
        )

    def decode(
        self, record: InputRecord, result: BatchResult, received_at_ms: int
    ) -> CallAttempt | Repayment | None:
        """The record's event, or None after counting it and queueing its dead letter."""
        result.consumed[record.topic] += 1
        event = self.decoded(record, received_at_ms)
        if not isinstance(event, Rejection):
            return event
        reject(record, event, result, received_at_ms)
        return None

    def misplaced(
        self, record: InputRecord, borrower_key: bytes, result: BatchResult
    ) -> Rejection | None:
        """Why a record keyed by its borrower_id is not on the partition that key belongs on
        (counted), or None. Records keyed otherwise (or not at all: repartition's input) have
        no partition to miss, and the decoder has bounded the length of the keys hashed here."""
        if self.placement is None or record.key != borrower_key:
            return None
        expected = self.placement(record.topic, borrower_key)
        if expected == record.partition:
            return None
        result.misrouted[record.topic, record.partition] += 1
        return Rejection(
            RejectReason.WRONG_PARTITION,
            f"Kafka partition: the record is on partition {record.partition}, but Kafka's "
            f"default partitioner (murmur2) puts its key on partition {expected}; produce "
            "with a murmur2 partitioner (librdkafka clients: partitioner=murmur2_random)",
        )

    def route(
        self, records: Iterable[InputRecord], received_at_ms: int
    ) -> tuple[BatchResult, list[tuple[str, bytes, bytes]]]:
        """The repartition step: valid records as (topic, borrower key, original value)."""
        result = BatchResult()
        routed = []
        for record in records:
            event = self.decode(record, result, received_at_ms)
            if event is not None and record.value is not None:
                key = event.borrower_id.encode()
                self.misplaced(record, key, result)  # counted only: re-keying puts it right
                routed.append((record.topic, key, record.value))
        return result, routed

    def process(
        self,
        records: Iterable[InputRecord],
        load: StateLoader,
        received_at_ms: int,
        shadow_loads: Sequence[StateLoader] = (),
    ) -> BatchResult:
        """Decode every record once, then apply the champion's config and each challenger's
        (`shadow_loads` read the challengers' own states, one per challenger, in order).

        One record can never stop the batch: if applying it raises, or the state it leads to
        cannot be encoded within MAX_STATE_BYTES, it is dead-lettered (`processing_error`) and
        its borrower's state, alerts and counts are rebuilt as if it had never arrived
        (`_Batch.rebuild`, a path only failures take)."""
        if len(shadow_loads) != len(self.challengers):
            raise ValueError(
                f"{len(self.challengers)} challengers but {len(shadow_loads)} state loaders"
            )
        records = records if isinstance(records, list) else list(records)
        result = BatchResult()
        decoded: list[Decoded] = []
        for index, record in enumerate(records):
            event = self.decode(record, result, received_at_ms)
            if event is None:
                continue
            misplaced = self.misplaced(record, event.borrower_id.encode(), result)
            if misplaced is not None:  # dead-lettered: a rebuild of its borrower skips it too
                reject(record, misplaced, result, received_at_ms)
                continue
            decoded.append((index, record, event))
        champion_cache, *shadow_caches = self.caches
        shadows = [
            _Batch(self, config, records, shadow_load, received_at_ms, decoding_of(result), cache)
            for config, shadow_load, cache in zip(
                self.challengers, shadow_loads, shadow_caches, strict=True
            )
        ]
        _Batch(self, self.config, records, load, received_at_ms, result, champion_cache).run(
            decoded
        )
        result.shadows = [shadow.run(decoded) for shadow in shadows]
        return result


def decoding_of(result: BatchResult) -> BatchResult:
    """A new result holding only `result`'s decoding outcome (counts and dead letters)."""
    return BatchResult(
        dead_letters=list(result.dead_letters),
        consumed=Counter(result.consumed),
        invalid=Counter(result.invalid),
        misrouted=Counter(result.misrouted),
    )


@dataclass(slots=True)
class _Rebuilt:
    """A borrower as `_Batch.rebuild` left it; state None: none of its records applied."""

    state: BorrowerState | None = None
    partition: int = 0
    alerts: list[tuple[int, int, Alert]] = field(default_factory=list)  # (source, partition, _)


class _Batch:
    """One `BatchProcessor.process` call: its records, what it has made of them so far, and
    the failure path (rebuilding one borrower without the records that failed)."""

    def __init__(  # noqa: PLR0917 (private, one caller)
        self,
        processor: BatchProcessor,
        config: EngineConfig,
        records: list[InputRecord],
        load: StateLoader,
        received_at_ms: int,
        result: BatchResult,
        cache: StateCache | None,
    ) -> None:
        self.processor = processor
        self.cache = cache
        self.config = config
        self.records = records
        self.load = load
        self.received_at_ms = received_at_ms
        self.result = result
        self.working: dict[bytes, BorrowerState] = {}
        self.partition_of: dict[bytes, int] = {}
        self.alert_sources: list[int] = []  # the index in `records` of each alert's record
        # What became of each record so far: None when it was dead-lettered (invalid, a
        # processing error, a wrong partition, over a limit).
        self.trail: list[Disposition | None] = [None] * len(records)
        counters = self.result
        self.counters = {Disposition.APPLIED: counters.applied, Disposition.LATE: counters.late,
                         Disposition.DUPLICATE: counters.duplicate}  # fmt: skip

    def run(self, decoded: Iterable[Decoded]) -> BatchResult:
        """Apply this batch's config to the decoded records; fills and returns `result`."""
        result, working, partition_of, trail = (
            self.result,
            self.working,
            self.partition_of,
            self.trail,
        )
        config, received_at_ms = self.config, self.received_at_ms
        for index, record, event in decoded:
            key = event.borrower_id.encode()
            try:
                state = working[key] if key in working else self.stored(key, record, event)
                outcome = apply(state, event, config)
            except Exception as error:  # any bug or hostile value: contained to this record
                self.fail(record, event, error)
                self.replace(key, self.rebuild(key, index))
                continue
            disposition = outcome.disposition
            trail[index] = disposition
            if disposition is Disposition.APPLIED:
                working[key] = outcome.state  # type: ignore[assignment]  # APPLIED has one
                partition_of[key] = record.partition
                if outcome.alerts:
                    result.alerts.extend((record.partition, alert) for alert in outcome.alerts)
                    self.alert_sources.extend([index] * len(outcome.alerts))
                newest = result.newest_event_ms.get(record.partition, 0)
                if event.at_ms > newest:
                    result.newest_event_ms[record.partition] = event.at_ms
            self.count(record.topic, disposition, 1)
            if disposition is Disposition.LIMITED:
                trail[index] = None
                reject(record, contact_point_limit(event), result, received_at_ms)
        for key in list(working):
            try:
                value = encoded(working[key])
            except Exception:  # find the record that made it so, one at a time
                rebuilt = self.rebuild(key, len(self.records))
                self.replace(key, rebuilt)
                if rebuilt.state is None:
                    continue  # none of the borrower's records could be kept: nothing to write
                value = rebuilt.state.to_bytes()
            result.writes[key] = StateWrite(partition_of[key], value)
            if self.cache is not None:
                self.cache.keep(key, value, working[key])
        return result

    def count(self, topic: str, disposition: Disposition | None, step: int) -> None:
        counter = self.counters.get(disposition)  # type: ignore[arg-type]
        if counter is not None:
            counter[topic] += step

    def stored(
        self, key: bytes, record: InputRecord, event: CallAttempt | Repayment
    ) -> BorrowerState | None:
        """The borrower's stored state, or None when it was idle past idle_eviction: start
        afresh, exactly as if the sweep had already run, so alerts never depend on when the
        sweep happens to run."""
        stored, cache = self.load(key, record.partition), self.cache
        if stored is None:
            state = None
        elif cache is None:
            state = BorrowerState.from_bytes(stored)
        else:
            state = cache.take(key, stored)
        config = self.config
        if state is not None and evict_if_idle(state, event.at_ms, config) is None:
            return None
        return state

    def fail(self, record: InputRecord, event: CallAttempt | Repayment, error: Exception) -> None:
        reject(record, processing_error(event, error), self.result, self.received_at_ms)

    def rebuild(self, key: bytes, end: int) -> _Rebuilt:
        """The borrower's state, alerts and counts from its stored state and its records before
        `end` (except those already dead-lettered), applied and encoded one at a time as batches
        of one would be: a record that raises, or leaves a state that cannot be encoded, is
        dead-lettered and skipped."""
        rebuilt = _Rebuilt()
        processor, received_at_ms, trail = self.processor, self.received_at_ms, self.trail
        for index, record in enumerate(self.records[:end]):
            before_now = trail[index]
            if before_now is None:
                continue
            event = processor.decoded(record, received_at_ms)
            if isinstance(event, Rejection) or event.borrower_id.encode() != key:
                continue
            state, before = rebuilt.state, None
            try:
                if state is None:
                    state = self.stored(key, record, event)
                before = None if state is None else encoded(state)
                outcome = apply(state, event, self.config)
                if outcome.disposition is Disposition.APPLIED:
                    encoded(outcome.state)  # type: ignore[arg-type]
            except Exception as error:  # as in process
                self.fail(record, event, error)
                rebuilt.state = None if before is None else BorrowerState.from_bytes(before)
                self.count(record.topic, before_now, -1)
                trail[index] = None
                continue
            disposition = outcome.disposition
            self.count(record.topic, before_now, -1)
            self.count(record.topic, disposition, 1)
            trail[index] = disposition
            if disposition is Disposition.APPLIED:
                rebuilt.state, rebuilt.partition = outcome.state, record.partition
                rebuilt.alerts += [(index, record.partition, alert) for alert in outcome.alerts]
            elif disposition is Disposition.LIMITED:
                trail[index] = None
                reject(record, contact_point_limit(event), self.result, received_at_ms)
        return rebuilt

    def replace(self, key: bytes, rebuilt: _Rebuilt) -> None:
        """Put a rebuilt borrower in place of what the batch had made of it, alerts included
        (kept in record order among the other borrowers' alerts)."""
        if rebuilt.state is None:
            self.working.pop(key, None)
            self.partition_of.pop(key, None)
        else:
            self.working[key] = rebuilt.state
            self.partition_of[key] = rebuilt.partition
        result, borrower = self.result, key.decode()
        tagged = zip(self.alert_sources, result.alerts, strict=True)
        kept = [(source, partition, alert) for source, (partition, alert) in tagged
                if alert.borrower_id != borrower]  # fmt: skip
        merged = sorted(kept + rebuilt.alerts, key=lambda entry: entry[0])
        self.alert_sources[:] = [source for source, _, _ in merged]
        result.alerts[:] = [(partition, alert) for _, partition, alert in merged]


class StateTooLarge(ValueError):
    """A state whose encoding would not fit a changelog message with room to spare."""


def encoded(state: BorrowerState) -> bytes:
    value = state.to_bytes()
    if len(value) > MAX_STATE_BYTES:
        raise StateTooLarge(
            f"the borrower's state would be {len(value):,} bytes; the limit is {MAX_STATE_BYTES:,}"
        )
    return value


def processing_error(event: CallAttempt | Repayment, error: Exception) -> Rejection:
    """Exception type and message only: nothing of any other borrower's state."""
    kind = CALL_ATTEMPT if isinstance(event, CallAttempt) else REPAYMENT
    return Rejection(
        RejectReason.PROCESSING_ERROR,
        f"{kind} {event.event_id!r}: applying it raised {type(error).__name__}: {error}",
    )


def contact_point_limit(event: CallAttempt | Repayment) -> Rejection:
    return Rejection(
        RejectReason.CONTACT_POINT_LIMIT,
        f"call_attempt.contact_point: the borrower already has {MAX_CONTACT_POINTS} contact "
        f"points; {event.event_id!r} would add another",
    )


def reject(
    record: InputRecord, rejection: Rejection, result: BatchResult, received_at_ms: int
) -> None:
    """Count the record as invalid and queue its dead letter."""
    result.invalid[record.topic, rejection.reason] += 1
    letter = dead_letter_record(
        raw=record.value,
        key=record.key,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        rejection=rejection,
        received_at_ms=received_at_ms,
    )
    result.dead_letters.append((record.partition, dead_letter_key(record.key), letter))
