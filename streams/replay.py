"""`reachwatch replay`: the engine over a JSONL event file, alerts as JSONL.

Each record's event is turned back into the bytes a Kafka consumer would see (the `event` object
re-serialised with orjson, or a malformed record's raw text) and goes through the same decoder
and `engine.apply` as the worker, one in-memory state per borrower, in file order. So for the
same input order the alerts equal the worker's, byte for byte once `emitted_at` is event time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import click
import orjson

from streams.config import DAY_MS, EngineConfig
from streams.config_loader import ConfigError, load_settings
from streams.decoding import DECODERS, Rejection
from streams.engine import Alert, BorrowerState, Disposition, apply, evict_if_idle
from streams.events import CallAttempt, Repayment

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


def decode_record(line: bytes, line_number: int = 0) -> CallAttempt | Repayment | Rejection:
    """Decode one event-file line exactly as the worker decodes the Kafka message it stands for."""
    try:
        record = orjson.loads(line)
        decode = DECODERS[record["kind"]]
        event = record["event"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise EventFileError(
            f"line {line_number}: not a {{'kind': 'call_attempt'|'repayment', 'event': ...}} "
            f"record ({error!r})"
        ) from None
    value = event.encode() if isinstance(event, str) else orjson.dumps(event)
    return decode(value, None, require_key=False)


def replay_records(
    records: Iterable[bytes], config: EngineConfig, counts: ReplayCounts | None = None
) -> Iterator[Alert]:
    """Alerts in the order the worker would emit them; `counts` is filled in as it goes.

    Idle states are evicted as the worker does (`evict_if_idle`), swept once per day of event
    time against the newest event time read so far.
    """
    counts = counts if counts is not None else ReplayCounts()
    states: dict[str, BorrowerState] = {}
    watermark_ms = next_sweep_ms = None
    for line_number, line in enumerate(records, start=1):
        if not line.strip():
            continue
        event = decode_record(line, line_number)
        counts.events += 1
        if isinstance(event, Rejection):
            counts.invalid += 1
            counts.invalid_reasons[event.reason] += 1
            continue
        outcome = apply(states.get(event.borrower_id), event, config)
        if outcome.disposition is Disposition.LATE:
            counts.late += 1
        elif outcome.disposition is Disposition.DUPLICATE:
            counts.duplicates += 1
        if outcome.state is None:
            states.pop(event.borrower_id, None)
        else:
            states[event.borrower_id] = outcome.state
        for alert in outcome.alerts:
            counts.alerts_by_rule[alert.rule] += 1
            yield alert
        if watermark_ms is None or event.at_ms > watermark_ms:
            watermark_ms = event.at_ms
        if next_sweep_ms is None:
            next_sweep_ms = watermark_ms + EVICTION_SWEEP_MS
        elif watermark_ms >= next_sweep_ms:
            counts.evicted += evict_idle(states, watermark_ms, config)
            next_sweep_ms = watermark_ms + EVICTION_SWEEP_MS


def evict_idle(states: dict[str, BorrowerState], watermark_ms: int, config: EngineConfig) -> int:
    idle = [b for b, state in states.items() if evict_if_idle(state, watermark_ms, config) is None]
    for borrower_id in idle:
        del states[borrower_id]
    return len(idle)


def load_engine_config(path: str | None) -> EngineConfig:
    """The engine part of a config file (None: REACHWATCH_CONFIG, else the shipped defaults)."""
    try:
        return load_settings(path).engine
    except ConfigError as error:
        raise click.ClickException(f"{path or 'configuration'} is invalid:\n{error}") from None


def write_alerts(alerts: Iterable[Alert], out: BinaryIO, emitted_at: str) -> None:
    for alert in alerts:
        emitted_at_ms = (
            alert.event_time_ms if emitted_at == "event-time" else time.time_ns() // 1_000_000
        )
        out.write(alert.encode(emitted_at_ms) + b"\n")


@click.command(name="replay")
@click.argument("events", type=click.File("rb"))
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Rules config (TOML). Default: $REACHWATCH_CONFIG, else the shipped defaults.",
)
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
def command(events: BinaryIO, config_path: str | None, out: BinaryIO, emitted_at: str) -> None:
    """Run the engine over EVENTS (JSON Lines, '-' for stdin); alerts as JSON Lines.

    Alerts are the worker's for the same input order. A summary (events, invalid, late,
    duplicates, alerts by rule) goes to stderr.
    """
    config = load_engine_config(config_path)
    counts = ReplayCounts()
    try:
        write_alerts(replay_records(events, config, counts), out, emitted_at)
    except EventFileError as error:
        raise click.ClickException(f"{events.name}: {error}") from None
    click.echo(counts.summary(), err=True)
