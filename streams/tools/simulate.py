"""`reachwatch simulate`: a seeded synthetic borrower population, as events and labels.

One `random.Random(seed)` drives everything (population, payments, contacts, delivery faults)
and nothing reads the wall clock, so the same options give byte-identical files. Days are
generated one at a time for the whole population and released in arrival order, which keeps
memory flat for million-event benchmark runs and lets the Kafka sink start at once.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from itertools import count
from typing import Any

import click
import orjson
from tqdm import tqdm

from streams.cli_options import settings_or_exit
from streams.tools.simulation.output import (
    DEFAULT_KAFKA,
    ArrivalQueue,
    Faults,
    Record,
    produce_to_kafka,
    write_jsonl,
)
from streams.tools.simulation.population import (
    SHANGHAI,
    Borrower,
    Clock,
    LedgerEntry,
    build_population,
    ledger,
)
from streams.tools.simulation.profiles import DEFAULT_MIX, parse_mix
from streams.tools.simulation.strategy import Attempt, CollectionStrategy, ContactState
from streams.worker.kafka_security import (
    BrokerConnectionError,
    KafkaSecurityError,
    check_connection,
    kafka_python_kwargs,
)

DEFAULT_START = "2026-11-01T00:00:00+08:00"
TIMEZONE = "Asia/Shanghai"
AGENTS = 120


def cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Simulation:
    """A population of borrowers and the event stream the collections team would see."""

    def __init__(
        self,
        *,
        borrowers: int,
        days: int,
        seed: int,
        start: datetime,
        mix: dict[str, float] | None = None,
        faults: Faults | None = None,
        strategy: CollectionStrategy | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = Clock(start, days)
        self.run_id = f"{self.rng.getrandbits(32):08x}"  # keeps event_ids apart across seeds
        self.borrowers: list[Borrower] = build_population(
            self.rng, self.clock, borrowers, mix or DEFAULT_MIX
        )
        self.strategy = strategy or CollectionStrategy()
        self.queue = ArrivalQueue(self.rng, faults or Faults())
        self._call_attempt_ids = count(1)
        self._repayment_ids = count(1)

    def labels(self) -> Iterator[dict[str, Any]]:
        return (borrower.label(self.clock) for borrower in self.borrowers)

    def records(self, on_day: Callable[[], object] | None = None) -> Iterator[Record]:
        """All records in arrival order; `on_day` is called after each simulated day."""
        rng, clock, queue, strategy = self.rng, self.clock, self.queue, self.strategy
        # Most borrowers are quiet on most days: index the work by day up front.
        entries_by_day: list[list[tuple[Borrower, LedgerEntry]]] = [[] for _ in range(clock.days)]
        active_by_day: list[list[tuple[Borrower, ContactState]]] = [[] for _ in range(clock.days)]
        for borrower in self.borrowers:
            for entry in ledger(rng, clock, borrower):
                entries_by_day[clock.day_of(entry.at_ms)].append((borrower, entry))
            state = ContactState()
            for day in sorted(strategy.active_days(clock, borrower)):
                if 0 <= day < clock.days:
                    active_by_day[day].append((borrower, state))
        for day in range(clock.days):
            for borrower, entry in entries_by_day[day]:
                queue.add(entry.at_ms, "repayment", self._repayment(borrower, entry))
            for borrower, state in active_by_day[day]:
                for attempt in strategy.day(rng, clock, borrower, state, day):
                    queue.add(attempt.at_ms, "call_attempt", self._call_attempt(borrower, attempt))
            yield from queue.release(clock.day_start(day + 1))
            if on_day is not None:
                on_day()
        yield from queue.release()

    def _call_attempt(self, borrower: Borrower, attempt: Attempt) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": f"ca-{self.run_id}-{next(self._call_attempt_ids):09d}",
            "borrower_id": borrower.borrower_id,
            "attempted_at": self.clock.format(attempt.at_ms),
            "channel": attempt.channel,
            "outcome": attempt.outcome,
            "contact_point": attempt.contact_point,
            "campaign": attempt.campaign,
            "borrower_tz": TIMEZONE,
        }
        if attempt.loan_id is not None:
            event["loan_id"] = attempt.loan_id
        if attempt.channel == "voice":
            event["agent_id"] = f"agent-{1 + int(self.rng.random() * AGENTS):03d}"
            if attempt.outcome == "answered":
                event["duration_s"] = self.rng.randint(30, 420)
            elif attempt.outcome == "voicemail":
                event["duration_s"] = self.rng.randint(10, 45)
        return event

    def _repayment(self, borrower: Borrower, entry: LedgerEntry) -> dict[str, Any]:
        return {
            "event_id": f"rp-{self.run_id}-{next(self._repayment_ids):09d}",
            "borrower_id": borrower.borrower_id,
            "loan_id": entry.loan.loan_id,
            "occurred_at": self.clock.format(entry.at_ms),
            "type": entry.type,
            "amount": cents_text(entry.cents),
            "currency": "CNY",
            "days_past_due": entry.loan.days_past_due(entry.at_ms),
        }


def parse_start(text: str) -> datetime:
    """RFC 3339 (or a bare date); without an offset the time is taken as Asia/Shanghai."""
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an RFC 3339 time like {DEFAULT_START}") from None
    return start if start.tzinfo else start.replace(tzinfo=SHANGHAI)


def parse_profile_mix(ctx: click.Context, param: click.Parameter, text: str | None) -> Any:
    if text is None:
        return None
    try:
        return parse_mix(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


fraction = click.FloatRange(0.0, 1.0)
DEFAULT_FAULTS = Faults()


@click.command(name="simulate")
@click.option("--borrowers", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--start",
    default=DEFAULT_START,
    show_default=True,
    help="First simulated day; its local date in Asia/Shanghai is used.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Event file (JSONL, arrival order); '-' for stdout.",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(dir_okay=False),
    help="Ground-truth label file (JSONL, one line per borrower).",
)
@click.option(
    "--profile-mix",
    callback=parse_profile_mix,
    help="e.g. 'reliable_payer=0.5,lost_contact=0.5'; unnamed profiles get 0. "
    "Default: " + ",".join(f"{name}={w}" for name, w in DEFAULT_MIX.items()),
)
@click.option(
    "--late-fraction",
    type=fraction,
    default=DEFAULT_FAULTS.late,
    show_default=True,
    help="Share of events delivered 65 min–6 h after their event time.",
)
@click.option(
    "--out-of-order-fraction",
    type=fraction,
    default=DEFAULT_FAULTS.out_of_order,
    show_default=True,
    help="Share delivered 1–45 min late (within the 1 h grace).",
)
@click.option(
    "--duplicate-fraction",
    type=fraction,
    default=DEFAULT_FAULTS.duplicate,
    show_default=True,
    help="Share delivered a second time (same event_id).",
)
@click.option(
    "--malformed-fraction",
    type=fraction,
    default=DEFAULT_FAULTS.malformed,
    show_default=True,
    help="Share followed by an extra corrupted copy.",
)
@click.option("--kafka", "bootstrap", help="Produce to this Kafka bootstrap server instead.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Events per second when producing to Kafka (default: as fast as possible).",
)
@click.option("--call-topic", default=DEFAULT_KAFKA.call_topic, show_default=True)
@click.option("--repayment-topic", default=DEFAULT_KAFKA.repayment_topic, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar and no summary line.")
def command(
    *,
    borrowers: int,
    days: int,
    seed: int,
    start: str,
    out_path: str | None,
    labels_path: str | None,
    profile_mix: dict[str, float] | None,
    late_fraction: float,
    out_of_order_fraction: float,
    duplicate_fraction: float,
    malformed_fraction: float,
    bootstrap: str | None,
    rate: float | None,
    call_topic: str,
    repayment_topic: str,
    quiet: bool,
) -> None:
    """Generate a synthetic borrower population: events to JSONL or Kafka, plus labels.

    Profiles: reliable_payer, forgetful, financial_hardship, active_avoider, lost_contact,
    absconder. The same options and seed give byte-identical output.
    """
    if not out_path and not bootstrap:
        raise click.UsageError("give --out FILE, --kafka BOOTSTRAP, or both")
    try:
        faults = Faults(
            late_fraction, out_of_order_fraction, duplicate_fraction, malformed_fraction
        )
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    simulation = Simulation(
        borrowers=borrowers,
        days=days,
        seed=seed,
        start=parse_start(start),
        mix=profile_mix,
        faults=faults,
    )
    if labels_path:
        with open(labels_path, "wb") as labels_file:
            labels_file.writelines(orjson.dumps(label) + b"\n" for label in simulation.labels())
    progress = tqdm(
        total=days, unit="day", file=sys.stderr, disable=quiet or not sys.stderr.isatty()
    )
    with progress:
        records = simulation.records(on_day=progress.update)
        if out_path and bootstrap:
            records = tee_to_file(records, out_path)
        if bootstrap:
            # TLS/SASL as the worker's: REACHWATCH_CONFIG and REACHWATCH_KAFKA__* settings.
            kafka = replace(settings_or_exit(None).kafka, broker=bootstrap)
            try:  # a bounded probe: kafka-python alone can wait forever on a TLS mismatch
                check_connection(kafka)
            except (BrokerConnectionError, KafkaSecurityError) as error:
                raise click.ClickException(str(error)) from None
            security = kafka_python_kwargs(kafka)
            produce_to_kafka(
                records,
                bootstrap,
                rate,
                call_topic=call_topic,
                repayment_topic=repayment_topic,
                producer_config=security,
            )
        else:
            assert out_path, "checked above: --out or --kafka"
            with click.open_file(out_path, "wb") as out:
                write_jsonl(records, out)
    if not quiet:
        injected = simulation.queue.injected
        click.echo(
            f"simulated {borrowers} borrowers over {days} days (seed {seed}): "
            f"{simulation.queue.events} events, {injected['late']} late, "
            f"{injected['out_of_order']} out of order, {injected['duplicate']} duplicates, "
            f"{injected['malformed']} malformed",
            err=True,
        )


def tee_to_file(records: Iterator[Record], path: str) -> Iterator[Record]:
    """Write each record to the event file as it passes on to Kafka."""
    with click.open_file(path, "wb") as out:
        for record in records:
            out.write(record.to_line())
            yield record
