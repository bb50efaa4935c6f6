"""Arrival order, injected delivery faults, and the two sinks (JSONL file, Kafka).

Events are generated in event time; real pipelines deliver some of them late, out of order,
twice, or corrupted. `ArrivalQueue` gives each event an arrival time (its event time, or later
for an injected fault) and releases records in arrival order, so a file or topic looks like what
a consumer would actually read.
"""

from __future__ import annotations

import random
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from streams.core.config import HOUR_MS, MINUTE_MS, SECOND_MS, KafkaConfig
from streams.tools.simulation.population import whole_seconds_between

# Arrival delays, against the default 1 h grace: late is past it, out-of-order within it.
LATE_DELAY_MS: tuple[int, int] = (HOUR_MS + 5 * MINUTE_MS, 6 * HOUR_MS)
OUT_OF_ORDER_DELAY_MS: tuple[int, int] = (MINUTE_MS, 45 * MINUTE_MS)
REDELIVERY_DELAY_MS: tuple[int, int] = (SECOND_MS, 10 * MINUTE_MS)
DEFAULT_KAFKA = KafkaConfig()
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "call_attempt": ("event_id", "borrower_id", "attempted_at", "channel", "outcome"),
    "repayment": ("event_id", "borrower_id", "loan_id", "occurred_at", "type", "days_past_due"),
}


class Record(NamedTuple):
    """One message: `value` is the event's JSON bytes, or the raw bytes of a malformed one."""

    kind: str
    key: str
    value: bytes
    malformed: bool = False

    def to_line(self) -> bytes:
        """The event-file line; equal to orjson.dumps({"kind": ..., "event": ...}) + newline."""
        event = orjson.dumps(self.value.decode()) if self.malformed else self.value
        return b'{"kind":"' + self.kind.encode() + b'","event":' + event + b"}\n"


@dataclass(frozen=True, slots=True)
class Faults:
    """Shares of generated events delivered late, out of order, twice, or with a corrupt copy.

    The four are exclusive (an event gets at most one fault), so together they must not exceed 1.
    """

    late: float = 0.001
    out_of_order: float = 0.01
    duplicate: float = 0.005
    malformed: float = 0.001

    def __post_init__(self) -> None:
        for name in ("late", "out_of_order", "duplicate", "malformed"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} fraction must be between 0 and 1")
        if self.late + self.out_of_order + self.duplicate + self.malformed > 1.0:
            raise ValueError("late, out-of-order, duplicate and malformed fractions exceed 1")


class ArrivalQueue:
    """Holds records until nothing generated later can arrive before them.

    One uniform draw per event picks at most one fault, so the common path costs one
    `random()`, an append, and a share of one sort per simulated day.
    """

    def __init__(self, rng: random.Random, faults: Faults) -> None:
        self._rng = rng
        self._late = faults.late
        self._out_of_order = self._late + faults.out_of_order
        self._duplicate = self._out_of_order + faults.duplicate
        self._malformed = self._duplicate + faults.malformed
        self._pending: list[tuple[int, int, Record]] = []
        self._sequence = 0
        self.events = 0
        self.injected: Counter[str] = Counter()

    def add(self, at_ms: int, kind: str, event: dict[str, Any]) -> None:
        self.events += 1
        self._sequence += 1
        record = Record(kind, event["borrower_id"], orjson.dumps(event))
        u = self._rng.random()
        if u >= self._malformed:
            self._pending.append((at_ms, self._sequence, record))
        else:
            self._inject(u, at_ms, record, event)

    def release(self, before_ms: int | None = None) -> list[Record]:
        """Records arriving before `before_ms` (all when None), in arrival order."""
        pending = self._pending
        pending.sort()  # sequence numbers are unique, so records themselves are never compared
        cut = len(pending) if before_ms is None else bisect_left(pending, (before_ms,))
        self._pending = pending[cut:]
        return [record for _, _, record in pending[:cut]]

    def _inject(self, u: float, at_ms: int, record: Record, event: dict[str, Any]) -> None:
        rng = self._rng
        if u < self._out_of_order:
            fault = "late" if u < self._late else "out_of_order"
            delay = LATE_DELAY_MS if fault == "late" else OUT_OF_ORDER_DELAY_MS
            self._pending.append(
                (at_ms + whole_seconds_between(rng, *delay), self._sequence, record)
            )
        else:
            self._pending.append((at_ms, self._sequence, record))
            fault = "duplicate" if u < self._duplicate else "malformed"
            if fault == "malformed":
                text = corrupt_event(rng, record.kind, event)
                record = Record(record.kind, record.key, text.encode(), malformed=True)
            self._sequence += 1
            redelivered_at = at_ms + whole_seconds_between(rng, *REDELIVERY_DELAY_MS)
            self._pending.append((redelivered_at, self._sequence, record))
        self.injected[fault] += 1


def corrupt_event(rng: random.Random, kind: str, event: dict[str, Any]) -> str:
    """The raw text of a broken copy: truncated, a required field missing, or a bad value."""
    damage = rng.randrange(4)
    if damage == 0:
        text = orjson.dumps(event).decode()
        return text[: rng.randrange(1, len(text) - 1)]
    broken = dict(event)
    if damage == 1:
        del broken[rng.choice(REQUIRED_FIELDS[kind])]
    elif damage == 2 and kind == "call_attempt":
        broken["outcome"] = "hung_up_twice"
    elif damage == 2:
        broken["type"] = "refund"
    elif kind == "repayment":
        broken["amount"] = float(broken["amount"])  # a float amount is never valid
    else:
        broken["attempted_at"] = "yesterday 9am"
    return orjson.dumps(broken).decode()


def write_jsonl(records: Iterable[Record], out: Any) -> int:
    """Write records as event-file lines to a binary stream; returns how many."""
    count = 0
    for record in records:
        out.write(record.to_line())
        count += 1
    return count


def produce_to_kafka(
    records: Iterable[Record],
    bootstrap: str,
    rate: float | None = None,
    *,
    call_topic: str = DEFAULT_KAFKA.call_topic,
    repayment_topic: str = DEFAULT_KAFKA.repayment_topic,
    producer_config: dict[str, Any] | None = None,
) -> int:
    """Send records keyed by borrower_id at about `rate` events/s (None: as fast as possible)."""
    from kafka import KafkaProducer

    topics = {"call_attempt": call_topic, "repayment": repayment_topic}
    producer = KafkaProducer(
        bootstrap_servers=bootstrap.removeprefix("kafka://"),
        linger_ms=5,
        **(producer_config or {}),
    )
    started = time.monotonic()
    sent = 0
    try:
        for record in records:
            producer.send(topics[record.kind], key=record.key.encode(), value=record.value)
            sent += 1
            if rate:
                ahead_s = sent / rate - (time.monotonic() - started)
                if ahead_s > 0:
                    time.sleep(ahead_s)
        producer.flush()
    finally:
        producer.close()
    return sent
