"""Benchmark traffic: simulated event mixes and a fast producer into a set of topics.

The saturation runs use `reachwatch simulate`'s population (the realistic mix: ~88 % call
attempts, faults included), cut to exactly N records. The memory and recovery runs need many
distinct borrowers rather than realism, so they get one unanswered call attempt per borrower.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import NamedTuple

from aiokafka import AIOKafkaProducer

from streams.core.decoding import CALL_ATTEMPT
from streams.tools.simulate import DEFAULT_START, Simulation, parse_start
from streams.tools.simulation.output import Faults
from tests.support.kafka import create_topics, unique_name

PARTITIONS = 4
EVENTS_PER_BORROWER_DAY = 0.88  # what the default simulated mix produces (measured)
SEND_WINDOW = 5_000  # unacknowledged sends before waiting, bounds the producer's memory


class Message(NamedTuple):
    kind: str  # call_attempt | repayment
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Topics:
    """One set of reachwatch topics on the shared broker (inputs, alerts, dead letters)."""

    prefix: str
    bootstrap: str

    @classmethod
    def create(cls, bootstrap: str, label: str) -> Topics:
        topics = cls(unique_name(f"bench-{label}"), bootstrap)
        create_topics(bootstrap, [topics.call, topics.repayment, topics.alert, topics.dead_letter],
                      PARTITIONS)  # fmt: skip
        return topics

    @property
    def call(self) -> str:
        return f"{self.prefix}.call-attempts"

    @property
    def repayment(self) -> str:
        return f"{self.prefix}.repayments"

    @property
    def alert(self) -> str:
        return f"{self.prefix}.alerts"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}.dead-letters"

    def of(self, kind: str) -> str:
        return self.call if kind == CALL_ATTEMPT else self.repayment


def simulated(events: int, borrowers: int, seed: int = 1) -> list[Message]:
    """The first `events` records of a simulated population, in arrival order.

    Late, out-of-order and duplicate deliveries are kept; corrupt copies are not, because the
    ceiling and the peer have no dead-letter path and the three must read the same topic.
    """
    days = max(7, round(1.5 * events / (borrowers * EVENTS_PER_BORROWER_DAY)))
    simulation = Simulation(
        borrowers=borrowers, days=days, seed=seed, start=parse_start(DEFAULT_START),
        faults=Faults(malformed=0.0),
    )  # fmt: skip
    records = [
        Message(r.kind, r.key.encode(), r.value) for r in islice(simulation.records(), events)
    ]
    if len(records) < events:
        raise ValueError(f"the simulation gave {len(records)} of {events} events; raise days")
    return records


def memory_borrower(n: int) -> str:
    return f"m-{n:07d}"


def one_attempt_each(borrowers: int) -> Iterator[Message]:
    """One unanswered voice attempt per borrower: state for many borrowers, cheaply."""
    for n in range(borrowers):
        borrower = memory_borrower(n)
        yield Message(
            CALL_ATTEMPT,
            borrower.encode(),
            b'{"event_id":"%s-ca","borrower_id":"%s","attempted_at":"2026-11-02T10:00:00.000+08:00",'
            b'"channel":"voice","outcome":"no_answer","borrower_tz":"Asia/Shanghai"}'
            % (borrower.encode(), borrower.encode()),
        )


def now_text(now_ms: int) -> str:
    """RFC 3339 with milliseconds and an explicit offset, as the alert's event_time round-trips."""
    return datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="milliseconds")


def producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)


async def produce_all(topics: Topics, messages: Iterable[Message]) -> int:
    """Send everything keyed by borrower and wait for every acknowledgement."""
    sender = producer(topics.bootstrap)
    await sender.start()
    sent = 0
    try:
        pending = []
        for message in messages:
            pending.append(
                await sender.send(topics.of(message.kind), message.value, key=message.key)
            )
            sent += 1
            if len(pending) >= SEND_WINDOW:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await sender.stop()
    return sent


def fill(topics: Topics, messages: Iterable[Message]) -> int:
    return asyncio.run(produce_all(topics, messages))
