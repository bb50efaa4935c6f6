"""`reachwatch replay`: the engine over a JSONL event file, alerts as JSONL.

Each record's event is turned back into the bytes a Kafka consumer would see (the `event` object
re-serialised with orjson, or a malformed record's raw text) and goes through the same decoder
and `engine.apply` as the worker, one in-memory state per borrower, in file order. So for the
same input order the alerts equal the worker's, byte for byte once `emitted_at` is event time.
A file line is an event, not a Kafka record: it has no partition, so the worker's partition check
(`wrong_partition`) has nothing to check here, and replay gives the alerts of correctly
partitioned input (docs/operations.md, "Records on the wrong partition").
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import click
import orjson

from streams.cli_options import config_option, settings_or_exit
from streams.core.batch import BatchProcessor, InputRecord
from streams.core.config import DAY_MS, EngineConfig
from streams.core.decoding import DECODERS, Rejection
from streams.core.engine import Alert, BorrowerState, evict_if_idle
from streams.core.events import CallAttempt, Repayment

EVICTION_SWEEP_MS = DAY_MS  # how often, in event time, idle borrower states are swept


class EventFileError(ValueError):
    """A line that is not an event-file record at all (as opposed to an invalid event)."""


@dataclass(slots=True)
class ReplayCounts:
    """What happened to the input, as the worker's metrics would count it."""

    events: int = 0
    invalid: int = 0
    late: int = 0
    duplicates: int = 0
    evicted: int = 0
    invalid_reasons: Counter[str] = field(default_factory=Counter)
    alerts_by_rule: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(self.alerts_by_rule.items()))
        return (
            f"replayed {self.events} events: {self.invalid} invalid, {self.late} late, "
            f"{self.duplicates} duplicates; {self.alerts_by_rule.total()} alerts"
            + (f" ({rules})" if rules else "")
        )


def input_record(line: bytes, line_number: int = 0) -> InputRecord:
    """The Kafka record an event-file line stands for: topic = its kind, value = its bytes."""
    try:
        record = orjson.loads(line)
        kind = record["kind"]
        event = record["event"]
        if kind not in DECODERS:
            raise KeyError(kind)
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise EventFileError(
            f"line {line_number}: not a {{'kind': 'call_attempt'|'repayment', 'event': ...}} "
            f"record ({error!r})"
        ) from None
    value = event.encode() if isinstance(event, str) else orjson.dumps(event)
    return InputRecord(kind, 0, line_number, None, value)


def decode_record(line: bytes, line_number: int = 0) -> CallAttempt | Repayment | Rejection:
    """Decode one event-file line exactly as the worker decodes the Kafka message it stands for."""
    record = input_record(line, line_number)
    return DECODERS[record.topic](record.value, None, require_key=False)


def replay_records(
    records: Iterable[bytes],
    config: EngineConfig,
    counts: ReplayCounts | None = None,
    now_ms: int | None = None,
) -> Iterator[Alert]:
    """Alerts in the order the worker would emit them; `counts` is filled in as it goes.

    Each line goes through the worker's own `BatchProcessor` (decode, engine, state writes), so
    replay and worker cannot drift apart. Idle states are evicted as the worker does
    (`evict_if_idle`), swept once per day of event time against the newest event time read.
    `now_ms` (default: the wall clock when called) plays the worker's clock: event times more
    than `max_future_skew` beyond it are rejected as the worker rejects them, so a historic file
    replays whole while one far-future record cannot move every borrower's clock.
    """
    counts = counts if counts is not None else ReplayCounts()
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    processor = BatchProcessor(config, {kind: kind for kind in DECODERS}, require_key=False)
    stored: dict[bytes, bytes] = {}

    def load(key: bytes, _partition: int) -> bytes | None:
        return stored.get(key)

    watermark_ms = next_sweep_ms = None
    for line_number, line in enumerate(records, start=1):
        if not line.strip():
            continue
        result = processor.process([input_record(line, line_number)], load, now_ms)
        counts.events += 1
        for (_, reason), n in result.invalid.items():
            counts.invalid += n
            counts.invalid_reasons[reason] += n
        counts.late += result.late.total()
        counts.duplicates += result.duplicate.total()
        for key, write in result.writes.items():
            if write.value is None:
                stored.pop(key, None)
            else:
                stored[key] = write.value
        for _, alert in result.alerts:
            counts.alerts_by_rule[alert.rule] += 1
            yield alert
        newest = result.newest_event_ms.get(0)
        if newest is not None and (watermark_ms is None or newest > watermark_ms):
            watermark_ms = newest
        if watermark_ms is None:
            continue
        if next_sweep_ms is None:
            next_sweep_ms = watermark_ms + EVICTION_SWEEP_MS
        elif watermark_ms >= next_sweep_ms:
            counts.evicted += evict_idle(stored, watermark_ms, config)
            next_sweep_ms = watermark_ms + EVICTION_SWEEP_MS


def evict_idle(stored: dict[bytes, bytes], watermark_ms: int, config: EngineConfig) -> int:
    idle = [
        key
        for key, value in stored.items()
        if evict_if_idle(BorrowerState.from_bytes(value), watermark_ms, config) is None
    ]
    for key in idle:
        del stored[key]
    return len(idle)


def epoch_ms(moment: datetime) -> int:
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def write_alerts(alerts: Iterable[Alert], out: BinaryIO, emitted_at: str) -> None:
    for alert in alerts:
        emitted_at_ms = (
            alert.event_time_ms if emitted_at == "event-time" else time.time_ns() // 1_000_000
        )
        out.write(alert.encode(emitted_at_ms) + b"\n")


@click.command(name="replay")
@click.argument("events", type=click.File("rb"))
@config_option
@click.option(
    "--out",
    type=click.File("wb"),
    default="-",
    show_default=True,
    help="Alert file (alert.v1 JSON Lines).",
)
@click.option(
    "--emitted-at",
    type=click.Choice(["event-time", "wall"]),
    default="event-time",
    show_default=True,
    help="event-time sets emitted_at to the alert's event time, making the output a "
    "pure function of input and config; wall uses the current time, like the worker.",
)
@click.option(
    "--now",
    "now",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
    default=None,
    help="The clock the worker would have had (default: now); event times more than "
    "max_future_skew after it are rejected as future_event_time. Naive values are UTC.",
)
def command(
    events: BinaryIO, config_path: Path | None, out: BinaryIO, emitted_at: str, now: Any
) -> None:
    """Run the engine over EVENTS (JSON Lines, '-' for stdin); alerts as JSON Lines.

    Alerts are the worker's for the same input order. A summary (events, invalid, late,
    duplicates, alerts by rule) goes to stderr.
    """
    config = settings_or_exit(config_path).engine
    counts = ReplayCounts()
    now_ms = None if now is None else epoch_ms(now)
    try:
        write_alerts(replay_records(events, config, counts, now_ms), out, emitted_at)
    except EventFileError as error:
        raise click.ClickException(f"{events.name}: {error}") from None
    click.echo(counts.summary(), err=True)
