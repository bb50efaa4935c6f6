"""Fetch-sized batches for Faust agents, past Faust's per-record stream path.

Faust turns every fetched record into a Message, an Event, a queue hand-off, a stream step and an
ack: ~100 µs a record (docs/design.md), which capped the worker at ~2,000 events/s here while
decode, engine and state need ~40 µs. `BatchingConsumer` hands all records of one fetch for a
batched topic to its agent's inbox as one `RecordBatch`, and the agent acks the batch's offsets in
one step when it is done. Everything else keeps Faust's own path: group membership and assignment,
offset commits, rebalance flow control, table changelogs and recovery.

While an agent's inbox is full the fetcher waits (back-pressure), which also holds back the
other topics of that consumer (standby changelogs, another agent); Faust's own path pauses only
the full partition.

This leans on faust-streaming 0.15.3 consumer internals (`_wait_next_records`, `_read_offset`,
`_add_gap`, `_acked`, `_acked_index`, `_committed_offset`, `_n_acked`, `_commit_every`);
pyproject.toml pins that version and tests/unit/test_batching.py checks they are still there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from faust.types.tuples import ack_lock
from mode.utils.futures import notify
from mode.utils.queues import ThrowableQueue

from streams.core.batch import InputRecord

INBOX_BATCHES = 4  # fetches queued per agent: back-pressure on the fetcher beyond that


@dataclass(slots=True)
class RecordBatch:
    """Records of one or more fetches, in fetch order per partition, and what acks them."""

    generation: int  # the consumer generation they were fetched in
    records: list[InputRecord] = field(default_factory=list)
    offsets: dict[TP, list[int]] = field(default_factory=dict)

    def extend(self, other: RecordBatch) -> None:
        self.records += other.records
        for tp, offsets in other.offsets.items():
            self.offsets.setdefault(tp, []).extend(offsets)


class BatchingConsumer(AIOKafkaConsumer):
    """Faust's aiokafka consumer, routing records of batched topics to agent inboxes."""

    app: BatchingApp

    def __post_init__(self) -> None:
        super().__post_init__()
        self.batches_in_flight = 0
        self._no_batch_in_flight = asyncio.Event()
        self._no_batch_in_flight.set()

    async def _wait_next_records(self, timeout: float) -> tuple[Any, set[TP] | None]:
        """One fetch: batched topics' records go to their inboxes, the rest on to Faust."""
        records, active_partitions = await super()._wait_next_records(timeout)
        inboxes = self.app.inboxes
        if not records or not inboxes:
            return records, active_partitions
        generation = self.app.consumer_generation_id
        batches: dict[str, RecordBatch] = {}
        for tp in [tp for tp in records if tp.topic in inboxes]:
            fetched = records.pop(tp)
            if not (
                active_partitions is None
                or tp in active_partitions
                or tp in self._buffered_partitions
            ):
                continue  # paused since the fetch: dropped, as Faust's getmany does
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            batch = batches.setdefault(tp.topic, RecordBatch(generation))
            await self._take_records(tp, fetched, batch)
        for topic, batch in batches.items():
            await self._deliver(inboxes[topic], batch)
        return records, active_partitions

    async def _deliver(self, inbox: Inbox, batch: RecordBatch) -> None:
        """Queue the batch once the agent has room (back-pressure on the fetcher). Dropped if
        the flow stopped or the generation changed since the fetch: a rebalance, after which
        Faust seeks back to the committed offsets and the records are fetched again. Checked
        right before queueing, as the fetcher may have waited (offset gaps, a full inbox)
        while a revocation cleared the inboxes."""
        while self.flow_active and batch.generation == self.app.consumer_generation_id:
            if not inbox.queue.full():
                inbox.queue.put_nowait(batch)
                return
            inbox.taken.clear()
            await self.wait_first(inbox.taken, self.suspend_flow)

    async def _take_records(self, tp: TP, fetched: Iterable[Any], batch: RecordBatch) -> None:
        """What Faust's drain loop does per record, minus the Message and Event: skip what was
        read already and record offset gaps (transaction markers), so commits can pass them."""
        read_offset = self._read_offset[tp]
        offsets = batch.offsets.setdefault(tp, [])
        for record in fetched:
            offset = record.offset
            if read_offset is not None and offset < read_offset:
                continue
            if read_offset and offset - read_offset > 1:
                await self._add_gap(tp, read_offset + 1, offset)
            batch.records.append(
                InputRecord(record.topic, record.partition, offset, record.key, record.value)
            )
            offsets.append(offset)
            read_offset = offset
        self._read_offset[tp] = read_offset

    def ack_batch(self, batch: RecordBatch) -> None:
        """`Consumer.ack` for a whole batch: offsets become committable once acked."""
        with ack_lock:
            for tp, offsets in batch.offsets.items():
                committed = self._committed_offset[tp]
                acked_index = self._acked_index[tp]
                fresh = [
                    offset
                    for offset in offsets
                    if (committed is None or offset >= committed) and offset not in acked_index
                ]
                acked_index.update(fresh)
                self._acked[tp].extend(fresh)
                self._n_acked += len(fresh)
            notify(self._waiting_for_ack)

    async def commit_if_due(self) -> None:
        """Faust commits every `broker_commit_every` acks from its drain loop; same here."""
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()

    def batch_started(self) -> None:
        self.batches_in_flight += 1
        self._no_batch_in_flight.clear()

    def batch_finished(self) -> None:
        self.batches_in_flight -= 1
        if not self.batches_in_flight:
            self._no_batch_in_flight.set()

    async def wait_empty(self) -> None:
        """Before partitions are revoked: the batch an agent is working on finishes first
        (queued ones are cleared by Faust's flow control, and their records fetched again)."""
        await self.wait_first(self._no_batch_in_flight)  # returns early when stopping
        await super().wait_empty()

    async def commit(self, *args: Any, **kwargs: Any) -> bool:
        """Commits happen between batches (Faust's timer would otherwise commit in the middle
        of one): under exactly-once a transaction then holds whole batches."""
        await self.wait_first(self._no_batch_in_flight)
        return await super().commit(*args, **kwargs)


@dataclass
class Inbox:
    """Fetched batches waiting for one agent. The queue is Faust's flow-control kind, so it
    is cleared when partitions are revoked and again when the flow resumes; the fetcher never
    blocks in `put` (a clear would cancel it), it waits for `taken` instead."""

    queue: ThrowableQueue
    taken: asyncio.Event = field(default_factory=asyncio.Event)


class BatchingApp(faust.App):
    """A Faust app whose consumer is a `BatchingConsumer`; agents read `batches(inbox)`."""

    inboxes: dict[str, Inbox]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inboxes = {}

    def _new_transport(self) -> Any:
        transport = super()._new_transport()
        transport.Consumer = BatchingConsumer
        return transport

    def inbox(self, topics: Iterable[str]) -> Inbox:
        """Where batches of `topics` arrive (one inbox per agent)."""
        inbox = Inbox(self.FlowControlQueue(maxsize=INBOX_BATCHES, clear_on_resume=True))
        for topic in topics:
            self.inboxes[topic] = inbox
        return inbox

    async def batches(self, inbox: Inbox, max_records: int) -> AsyncIterator[RecordBatch]:
        """Batches as they arrive, queued fetches merged up to `max_records`; a batch is acked
        when the caller asks for the next one (an exception in between leaves it unacked)."""
        consumer: BatchingConsumer = self.consumer  # type: ignore[assignment]
        while True:
            batch = await self._current_batch(inbox.queue)
            while not inbox.queue.empty() and len(batch.records) < max_records:
                queued: RecordBatch = inbox.queue.get_nowait()
                if queued.generation == batch.generation:
                    batch.extend(queued)
            inbox.taken.set()
            now = monotonic()
            for tp in batch.offsets:  # what Faust's stream-idle (livelock) check reads
                self.monitor.stream_inbound_time[tp] = now
            consumer.batch_started()
            try:
                yield batch
                consumer.ack_batch(batch)
            finally:
                consumer.batch_finished()
            await consumer.commit_if_due()

    async def _current_batch(self, inbox: ThrowableQueue) -> RecordBatch:
        """The next batch fetched in the current generation: older ones were fetched before a
        rebalance, and Faust seeks back to the committed offsets after one."""
        while True:
            batch: RecordBatch = await inbox.get()
            if batch.generation == self.consumer_generation_id:
                return batch
