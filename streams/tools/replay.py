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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import click
import orjson

from streams.cli_options import (
    challenger_option,
    challengers_or_exit,
    config_option,
    settings_or_exit,
)
from streams.core.batch import BatchProcessor, BatchResult, InputRecord
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
    """Alerts in the order the worker would emit them; `counts` is filled in as it goes."""
    counts = counts if counts is not None else ReplayCounts()
    return (alert for _, alert in replay_lanes(records, [config], [counts], now_ms))


def replay_lanes(
    records: Iterable[bytes],
    configs: Sequence[EngineConfig],
    counts: Sequence[ReplayCounts],
    now_ms: int | None = None,
) -> Iterator[tuple[int, Alert]]:
    """(config index, alert): the first config is the champion, the others its challengers.

    Each line goes through the worker's own `BatchProcessor` (one decode, each config's engine
    over its own states), so replay and worker cannot drift apart. Idle states are evicted as
    the worker does (`evict_if_idle`), swept once per day of event time against the newest
    event time read. `counts` holds one ReplayCounts per config, filled in as it goes.
    `now_ms` (default: the wall clock when called) plays the worker's clock: event times more
    than `max_future_skew` beyond it are rejected as the worker rejects them, so a historic file
    replays whole while one far-future record cannot move every borrower's clock.
    """
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    champion, *challengers = configs
    processor = BatchProcessor(
        champion, {kind: kind for kind in DECODERS}, require_key=False, challengers=challengers
    )
    lanes = [
        _Lane(config, lane_counts) for config, lane_counts in zip(configs, counts, strict=True)
    ]
    loads = [partial(_load, lane.stored) for lane in lanes]
    for line_number, line in enumerate(records, start=1):
        if not line.strip():
            continue
        result = processor.process([input_record(line, line_number)], loads[0], now_ms, loads[1:])
        for index, (lane, lane_result) in enumerate(
            zip(lanes, [result, *result.shadows], strict=True)
        ):
            lane.count(lane_result)
            for _, alert in lane_result.alerts:
                lane.counts.alerts_by_rule[alert.rule] += 1
                yield index, alert


@dataclass(slots=True)
class _Lane:
    """One config's states, counts and eviction schedule in a replay."""

    config: EngineConfig
    counts: ReplayCounts
    stored: dict[bytes, bytes] = field(default_factory=dict)
    watermark_ms: int | None = None
    next_sweep_ms: int | None = None

    def count(self, result: BatchResult) -> None:
        """Count one record's outcome, store its state, and sweep when a day has passed."""
        counts = self.counts
        counts.events += 1
        for (_, reason), n in result.invalid.items():
            counts.invalid += n
            counts.invalid_reasons[reason] += n
        counts.late += result.late.total()
        counts.duplicates += result.duplicate.total()
        for key, write in result.writes.items():
            if write.value is None:
                self.stored.pop(key, None)
            else:
                self.stored[key] = write.value
        newest = result.newest_event_ms.get(0)
        if newest is not None and (self.watermark_ms is None or newest > self.watermark_ms):
            self.watermark_ms = newest
        if self.watermark_ms is None:
            return
        if self.next_sweep_ms is None:
            self.next_sweep_ms = self.watermark_ms + EVICTION_SWEEP_MS
        elif self.watermark_ms >= self.next_sweep_ms:
            counts.evicted += evict_idle(self.stored, self.watermark_ms, self.config)
            self.next_sweep_ms = self.watermark_ms + EVICTION_SWEEP_MS


def _load(stored: dict[bytes, bytes], key: bytes, _partition: int) -> bytes | None:
    return stored.get(key)


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


def encoded(alert: Alert, emitted_at: str) -> bytes:
    emitted_at_ms = (
        alert.event_time_ms if emitted_at == "event-time" else time.time_ns() // 1_000_000
    )
    return alert.encode(emitted_at_ms) + b"\n"


@click.command(name="replay")
@click.argument("events", type=click.File("rb"))
@config_option
@challenger_option
@click.option(
    "--out",
    type=click.File("wb"),
    default="-",
    show_default=True,
    help="Alert file (alert.v1 JSON Lines).",
)
@click.option(
    "--shadow-out",
    type=click.File("wb"),
    default=None,
    help="The challengers' alerts (alert.v1 JSON Lines, told apart by config_version), as the "
    "worker publishes them to the shadow alert topic.",
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
    events: BinaryIO,
    *,
    config_path: Path | None,
    challenger_paths: tuple[Path, ...],
    out: BinaryIO,
    shadow_out: BinaryIO | None,
    emitted_at: str,
    now: Any,
) -> None:
    """Run the engine over EVENTS (JSON Lines, '-' for stdin); alerts as JSON Lines.

    Alerts are the worker's for the same input order, and with challengers (the config's
    [shadow] challengers and --challenger) the shadow alerts are too. A summary (events, invalid,
    late, duplicates, alerts by rule; a line per challenger) goes to stderr.
    """
    settings = settings_or_exit(config_path)
    challengers = challengers_or_exit(settings, challenger_paths)
    configs = [settings.engine, *(challenger.engine for challenger in challengers)]
    counts = [ReplayCounts() for _ in configs]
    now_ms = None if now is None else epoch_ms(now)
    try:
        for index, alert in replay_lanes(events, configs, counts, now_ms):
            if index == 0:
                out.write(encoded(alert, emitted_at))
            elif shadow_out is not None:
                shadow_out.write(encoded(alert, emitted_at))
    except EventFileError as error:
        raise click.ClickException(f"{events.name}: {error}") from None
    click.echo(counts[0].summary(), err=True)
    for challenger, lane_counts in zip(challengers, counts[1:], strict=True):
        click.echo(
            f"challenger {challenger.name} ({challenger.engine.version}): {lane_counts.summary()}",
            err=True,
        )
