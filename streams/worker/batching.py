"""Fetch-sized batches for Faust agents, past Faust's per-record stream path.

Faust turns every fetched record into a Message, an Event, a queue hand-off, a stream step and an
ack, which per record cost more than decode, engine and state together (docs/performance.md) and
capped the worker's throughput. `BatchingConsumer` hands all records of one fetch for a
batched topic to its agent's inbox as one `RecordBatch`, and the agent acks the batch's offsets in
one step when it is done. Everything else keeps Faust's own path: group membership and assignment,
offset commits, rebalance flow control, standby changelogs and the recovery's bookkeeping.

A table being restored takes the same shortcut: Faust's recovery handles each changelog record
as one event through its queue, which made restoring 100,000 borrowers CPU-bound on that path
alone (docs/performance.md, "Restore: where the time goes"). `BatchingConsumer` applies the
changelog records of the partitions in active recovery a fetch at a time, with the offsets and
the end-of-recovery signal Faust's own loop keeps.

While an agent's inbox is full the fetcher waits (back-pressure), which also holds back the
other topics of that consumer (standby changelogs, another agent); Faust's own path pauses only
the full partition.

The Faust internals this needs are named in `streams.worker.faust_internals`, and only there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from time import monotonic
from typing import Any, cast

from faust.tables.manager import TableManager
from faust.types import TP
from mode.utils.queues import ThrowableQueue

from streams.core.batch import InputRecord
from streams.worker.faust_internals import (
    InternalsApp,
    InternalsConsumer,
    mark_streams_active,
    note_restore_progress,
)

logger = logging.getLogger(__name__)
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


class BatchingConsumer(InternalsConsumer):
    """Faust's aiokafka consumer, routing records of batched topics to agent inboxes."""

    app: BatchingApp

    async def on_shutdown(self) -> None:
        """Once the aiokafka consumer has committed and closed (a child service)."""
        await super().on_shutdown()
        if self.app.on_consumer_closed is not None:
            await self.app.on_consumer_closed()

    def __post_init__(self) -> None:
        super().__post_init__()
        self.batches_in_flight = 0
        self._no_batch_in_flight = asyncio.Event()
        self._no_batch_in_flight.set()

    async def route_fetch(
        self, records: Any, active_partitions: set[TP] | None, generation: int, assigned: set[TP]
    ) -> tuple[Any, set[TP] | None]:
        """One fetch: batched topics' records go to their inboxes, the rest on to Faust.

        Records are dropped, never half-taken, where they cannot be trusted: a fetch that
        outlasted a rebalance (for the partitions assigned when it was made, whose records may
        come from the position before it, ahead of the committed offset), a partition paused
        since (recovery, revocation), or a batch the agent can no longer take. aiokafka has
        moved past dropped records, so their partitions are sought back to the committed
        offsets at once (`rewind_to_committed`): otherwise the next fetch would jump over
        them and the jump pass for an offset gap that commits skip. Re-reading from the
        committed offset may process records again, which at least once allows."""
        if records and generation == self.app.consumer_generation_id:
            await self._restore_changelogs(records, active_partitions)
        inboxes = self.app.inboxes
        if not records or not inboxes:
            return records, active_partitions
        current = self.app.consumer_generation_id
        stale = assigned if generation != current else set()
        batches: dict[str, RecordBatch] = {}
        dropped: set[TP] = set()
        for tp in [tp for tp in records if tp.topic in inboxes]:
            fetched = records.pop(tp)
            if tp in stale or not self.still_wanted(tp, active_partitions):
                dropped.add(tp)
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            batch = batches.setdefault(tp.topic, RecordBatch(current))
            await self._take_records(tp, fetched, batch)
        for topic, batch in batches.items():
            if not await self._deliver(inboxes[topic], batch):
                dropped.update(batch.offsets)
        if dropped and not self.should_stop:
            rewound = await self.rewind_to_committed(dropped)
            logger.info(
                "fetched records dropped at a rebalance; read again from the committed offsets: %s",
                ", ".join(
                    f"{tp.topic}[{tp.partition}]@{offset or 0}"
                    for tp, offset in sorted(rewound.items())
                ),
            )
        return records, active_partitions

    async def _restore_changelogs(self, records: Any, active_partitions: set[TP] | None) -> None:
        """Apply the fetch's records of changelog partitions in active recovery to their tables,
        one batch per partition, as Faust's recovery loop applies them from its queue one
        event at a time: records at or below the partition's recovery offset are skipped, the
        offset moves to the last record applied, and recovery is signalled complete once no
        active partition has records left. What Faust's loop still buffers is applied first,
        so a key's newer record always lands last. Standby partitions keep Faust's path.
        Decoding goes through the changelog topic's own schema, as on Faust's path; a table
        with an on_changelog_event callback would miss it here (reachwatch's tables have none).
        """
        tables = cast(TableManager, self.app.tables)
        recovery = tables.recovery
        if not recovery.in_recovery or not tables.changelog_queue.empty():
            # Changelog records still queued on Faust's path (e.g. from the first fetch after a
            # rebalance, made before it) are older than this fetch's: applying this one first
            # would move the offset past them and Faust's loop would then skip them. Faust's
            # path takes this fetch too, in order, until its queue has drained.
            return
        active = recovery.active_tps
        restoring = [tp for tp in records
                     if tp in active and self.still_wanted(tp, active_partitions)]  # fmt: skip
        if not restoring:
            return
        recovery.flush_buffers()
        now = monotonic()
        offsets = recovery.active_offsets
        for tp in restoring:
            fetched = records.pop(tp)
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            table = recovery.tp_to_table[tp]
            decode = table.changelog_topic.decode
            seen = offsets.get(tp)
            events, last = [], None
            for record in fetched:
                if seen is not None and record.offset <= seen:
                    continue
                event = await decode(self.to_message(tp, record))
                if event is not None:  # None: undecodable, reported by the topic as Faust does
                    events.append(event)
                last = record.offset
            if last is None:
                continue
            table.apply_changelog_batch(events)
            offsets[tp] = last
            self.set_read_offset(tp, last)
            note_restore_progress(recovery, tp, now)
        if not recovery.need_recovery():
            recovery.signal_recovery_end.set()

    async def _deliver(self, inbox: Inbox, batch: RecordBatch) -> bool:
        """Queue the batch once the agent has room (back-pressure on the fetcher); False if
        it was dropped instead because the flow stopped or the generation changed since the
        fetch (a rebalance). Checked right before queueing, as the fetcher may have waited
        (offset gaps, a full inbox) while a revocation cleared the inboxes."""
        while self.flow_active and batch.generation == self.app.consumer_generation_id:
            if not inbox.queue.full():
                inbox.queue.put_nowait(batch)
                return True
            inbox.taken.clear()
            await self.wait_first(inbox.taken, self.suspend_flow)  # type: ignore[arg-type]
        return False

    async def _take_records(self, tp: TP, fetched: Iterable[Any], batch: RecordBatch) -> None:
        """What Faust's drain loop does per record, minus the Message and Event: skip what was
        read already and record offset gaps (transaction markers), so commits can pass them."""
        read_offset = self.read_offset(tp)
        offsets = batch.offsets.setdefault(tp, [])
        for record in fetched:
            offset = record.offset
            if read_offset is not None and offset < read_offset:
                continue
            if read_offset and offset - read_offset > 1:
                await self.add_gap(tp, read_offset + 1, offset)
                if batch.generation != self.app.consumer_generation_id:
                    return  # a rebalance while waiting: leave the read offset to its seek
            batch.records.append(
                InputRecord(record.topic, record.partition, offset, record.key, record.value)
            )
            offsets.append(offset)
            read_offset = offset
        self.set_read_offset(tp, read_offset)

    def stop_flow(self) -> None:
        """Faust stops the flow when partitions are revoked and when the worker stops: the
        batches queued for the agents go then, and their partitions are read again from the
        committed offsets in the next assignment. Not when the flow resumes, as Faust's own
        stream queues are: Faust resumes it after seeking back to the committed offsets at the
        end of a recovery, and a batch fetched during that seek and cleared at the resume
        would be skipped for good (aiokafka has moved past it)."""
        super().stop_flow()
        for inbox in self.app.inboxes.values():
            inbox.queue.clear()

    def ack_batch(self, batch: RecordBatch) -> None:
        """`Consumer.ack` for a whole batch: offsets become committable once acked."""
        self.ack_offsets(batch.offsets)

    async def commit_if_due(self) -> None:
        """Faust commits every `broker_commit_every` acks from its drain loop; same here."""
        if self.take_commit_due():
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
        (queued ones were dropped when the flow stopped, and their records are read again)."""
        # returns early when stopping; mode waits on any event with .wait()
        await self.wait_first(self._no_batch_in_flight)  # type: ignore[arg-type]
        await super().wait_empty()

    async def commit(self, *args: Any, **kwargs: Any) -> bool:
        """Commits happen between batches (Faust's timer would otherwise commit in the middle
        of one): under exactly-once a transaction then holds whole batches."""
        await self.wait_first(self._no_batch_in_flight)  # type: ignore[arg-type]
        return await super().commit(*args, **kwargs)


@dataclass
class Inbox:
    """Fetched batches waiting for one agent. Emptied when the consumer's flow stops
    (`BatchingConsumer.stop_flow`); the fetcher never blocks in `put` (a clear would cancel
    it), it waits for `taken` instead."""

    queue: ThrowableQueue
    taken: asyncio.Event = field(default_factory=asyncio.Event)


class BatchingApp(InternalsApp):
    """A Faust app whose consumer is a `BatchingConsumer`; agents read `batches(inbox)`."""

    consumer_class = BatchingConsumer
    inboxes: dict[str, Inbox]
    on_consumer_closed: Callable[[], Awaitable[None]] | None = None  # e.g. leave the group

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inboxes = {}

    def inbox(self, topics: Iterable[str]) -> Inbox:
        """Where batches of `topics` arrive (one inbox per agent)."""
        inbox = Inbox(self.FlowControlQueue(maxsize=INBOX_BATCHES, clear_on_resume=False))
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
            mark_streams_active(self, batch.offsets, monotonic())
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
