"""Every private Faust and aiokafka name reachwatch uses, and why, in one place.

The batching path (`streams.worker.batching`) and the table writes (`streams.worker.app`) go
around Faust's per-event stream, so they need a few of its internals. faust-streaming is pinned
(pyproject.toml, constraints.txt); none of these names is public API and any upgrade may rename
one. `RELIED_ON` lists each with the signature used here, and
tests/unit/worker/test_faust_internals.py checks them all, so an upgrade fails in the test run
rather than silently in production (RocksDB writes to the wrong partition's database, restored
borrowers never tracked, wrong commits). Nothing outside this module names them.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.streams import _current_event
from faust.transport.drivers.aiokafka import Consumer as FaustAIOKafkaConsumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage, ack_lock
from mode.utils.futures import notify


@dataclass(frozen=True, slots=True)
class Reliance:
    """One private name: where it lives, what shape the code expects, and why it is used."""

    owner: str  # dotted path of the module or class that defines it
    name: str
    signature: str | None  # str(inspect.signature(...)) for callables; None for data
    why: str


_CONSUMER = "faust.transport.consumer.Consumer"
RELIED_ON: tuple[Reliance, ...] = (
    Reliance("faust.streams", "_current_event", None,
             "the RocksDB store picks a partition's database from the current event's "
             "message; batch writes happen outside any event, so a stand-in is set"),
    Reliance(_CONSUMER, "_wait_next_records",
             "(self, timeout: float) -> Tuple[Optional[Mapping[faust.types.tuples.TP, "
             "List[Any]]], Optional[Set[faust.types.tuples.TP]]]",
             "the one place each fetch passes before Faust splits it into per-record events"),
    Reliance(_CONSUMER, "_add_gap", "(self, tp: faust.types.tuples.TP, offset_from: int, "
             "offset_to: int) -> None",
             "offsets skipped in a fetch (transaction markers) must not block commits"),
    Reliance(_CONSUMER, "_read_offset", None, "the position Faust's drain loop resumes from"),
    Reliance(_CONSUMER, "_committed_offset", None, "acks below the committed offset are void"),
    Reliance(_CONSUMER, "_acked", None, "acked offsets per partition, read by commits"),
    Reliance(_CONSUMER, "_gap", None, "offset gaps per partition, which commits pass"),
    Reliance(_CONSUMER, "_acked_index", None, "the same as a set, against double acks"),
    Reliance(_CONSUMER, "_n_acked", None, "acks since the last commit (broker_commit_every)"),
    Reliance(_CONSUMER, "_commit_every", None, "app.conf.broker_commit_every, as the consumer "
             "caches it"),
    Reliance(_CONSUMER, "_waiting_for_ack", None, "woken when acks arrive, as Consumer.ack does"),
    Reliance("faust.transport.drivers.aiokafka.Consumer", "_to_message",
             "(self, tp: faust.types.tuples.TP, record: Any) -> faust.types.tuples.ConsumerMessage",
             "changelog records applied a fetch at a time become the messages Faust's own "
             "path would make of them"),
    Reliance(_CONSUMER, "_buffered_partitions", None, "partitions still to be drained although "
             "paused since the fetch, as Faust's getmany keeps them"),
    Reliance("faust.transport.consumer.ThreadDelegateConsumer", "_thread", None,
             "the thread aiokafka runs on: a partition's seek must happen there"),
    Reliance("faust.transport.drivers.aiokafka.AIOKafkaConsumerThread", "_ensure_consumer",
             "(self) -> aiokafka.consumer.consumer.AIOKafkaConsumer",
             "the aiokafka consumer, to seek single partitions to their committed offsets"),
    Reliance("faust.app.base.App", "_new_transport", "(self) -> faust.types.transports.TransportT",
             "the only hook that decides the consumer class the transport builds"),
    Reliance("faust.transport.drivers.aiokafka.Producer", "_ensure_producer",
             "(self) -> aiokafka.producer.producer.AIOKafkaProducer",
             "changelog records go to aiokafka as whole record batches"),
    Reliance("faust.transport.drivers.aiokafka.Producer", "_transaction_producers", None,
             "under exactly-once, the record batches go to the partition's transactional "
             "producer"),
    Reliance("faust.transport.drivers.aiokafka.Producer", "_trn_locks", None,
             "the lock Faust holds around each send of a transactional producer"),
    Reliance("faust.tables.recovery.Recovery", "_active_events_received_at", None,
             "when each partition in active recovery last got a record; changelog records "
             "applied a fetch at a time record it as Faust's loop does, or its stats task "
             "warns that a partition receives nothing"),
    Reliance("faust.stores.rocksdb.Store", "_dbs", None,
             "a reopened RocksDB store holds borrowers that recovery does not replay"),
    Reliance("faust.stores.rocksdb.Store", "_visible_keys",
             "(self, db: Rdict) -> Iterator[bytes]",
             "the keys of one partition's database, as the store itself lists them"),
)  # fmt: skip


class _PartitionEvent:
    """What Faust's RocksDB store reads from the current event: `message.partition`."""

    __slots__ = ("__weakref__", "message", "partition")

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.message = self


_PARTITION_EVENTS: dict[int, _PartitionEvent] = {}  # kept alive for the weak references


def act_in_partition(partition: int) -> None:
    """Make `partition` the current event's, so the store picks that partition's database."""
    event = _PARTITION_EVENTS.get(partition)
    if event is None:
        event = _PARTITION_EVENTS[partition] = _PartitionEvent(partition)
    _current_event.set(weakref.ref(event))  # type: ignore[arg-type]


def leave_partition() -> None:
    """The stand-in event must not outlive the batch that set it."""
    _current_event.set(None)


def aiokafka_producer(app: faust.App, topic: str, partition: int) -> tuple[Any, Any]:
    """The aiokafka producer that carries a message to `topic`'s `partition`, and the lock
    Faust's own sends hold around it (a null context where Faust takes none).

    Under at-least-once that is the one producer under Faust's, started when Faust's is.
    Under exactly-once it is the transactional producer of that partition's transaction,
    under the id Faust's transaction manager gives it (app id, the topic's assignor group,
    the partition): Faust begins those transactions when partitions are assigned and commits
    them with the consumer offsets, so record batches sent through it are part of them."""
    producer = app.producer
    if not app.in_transaction:
        return producer._ensure_producer(), nullcontext()  # type: ignore[attr-defined]
    transactional_id = f"{app.conf.id}-{app.assignor.group_for_topic(topic)}-{partition}"
    return (
        producer._transaction_producers[transactional_id],  # type: ignore[attr-defined]
        producer._trn_locks[transactional_id],  # type: ignore[attr-defined]
    )


def stored_keys(store: Any, partitions: Iterable[int]) -> Iterator[tuple[bytes, int]]:
    """(key, partition) for what a RocksDB store already holds in `partitions`; nothing for the
    memory store, whose content recovery rebuilds in full. Raises if a RocksDB store lacks what
    this reads, rather than leaving its borrowers untracked."""
    from faust.stores.rocksdb import Store as RocksDBStore

    if not isinstance(store, RocksDBStore):
        return
    databases = getattr(store, "_dbs", None)
    if databases is None or not hasattr(store, "_visible_keys"):
        raise RuntimeError("faust's RocksDB store no longer has _dbs/_visible_keys")
    for partition in partitions:
        if partition in databases:
            for key in store._visible_keys(databases[partition]):
                yield key, partition


def note_restore_progress(recovery: Any, tp: TP, now: float) -> None:
    """Records of `tp` (in active recovery) arrived at `now`, for Faust's recovery stats."""
    recovery._active_events_received_at[tp] = now


def mark_streams_active(app: faust.App, partitions: Iterable[TP], now: float) -> None:
    """What Faust's per-event stream records on each event, read by its stream-idle (livelock)
    check; batches bypass that stream, so they record it themselves."""
    inbound = app.monitor.stream_inbound_time
    for tp in partitions:
        inbound[tp] = now


class InternalsApp(faust.App):
    """A Faust app whose transport builds `consumer_class` as its consumer."""

    consumer_class: type[FaustAIOKafkaConsumer] = FaustAIOKafkaConsumer

    def _new_transport(self) -> Any:
        transport = super()._new_transport()
        transport.Consumer = self.consumer_class  # type: ignore[misc]  # this app's only
        return transport


class InternalsConsumer(FaustAIOKafkaConsumer):
    """Faust's aiokafka consumer with named operations over its private bookkeeping.

    `route_fetch` sees every fetch before Faust turns it into per-record events; the other
    methods do per batch what Faust's drain loop and `Consumer.ack` do per record."""

    async def _wait_next_records(self, timeout: float) -> tuple[Any, set[TP] | None]:
        # The generation the fetch was made in and what was assigned then: a fetch can outlast
        # a rebalance (it waits up to fetch_max_wait_ms on the consumer thread).
        generation, assigned = self.app.consumer_generation_id, set(self.assignment())
        records, active_partitions = await super()._wait_next_records(timeout)
        return await self.route_fetch(records, active_partitions, generation, assigned)

    async def route_fetch(
        self, records: Any, active_partitions: set[TP] | None, generation: int, assigned: set[TP]
    ) -> tuple[Any, set[TP] | None]:
        return records, active_partitions

    def still_wanted(self, tp: TP, active_partitions: set[TP] | None) -> bool:
        """False for a partition paused since its fetch (Faust's getmany drops those)."""
        return (
            active_partitions is None
            or tp in active_partitions
            or (tp in self._buffered_partitions)
        )

    def to_message(self, tp: TP, record: Any) -> ConsumerMessage:
        """The message Faust's consumer makes of a fetched record."""
        return self._to_message(tp, record)

    def read_offset(self, tp: TP) -> int | None:
        offset: int | None = self._read_offset[tp]
        return offset

    def set_read_offset(self, tp: TP, offset: int | None) -> None:
        self._read_offset[tp] = offset

    async def rewind_to_committed(self, tps: Iterable[TP]) -> dict[TP, int | None]:
        """Seek partitions back to their committed offsets (their beginning when none), and
        Faust's read and committed offsets with them, as `perform_seek` does for all.

        For records aiokafka returned that the worker then dropped: aiokafka's position has
        moved past them, and no later seek is certain to bring them back (a rebalance's seek
        may already have happened; Faust's skips a partition whose committed offset is 0 or
        absent). The next fetch would then jump over them, and the jump would be taken for
        an offset gap (transaction markers) that commits pass. Partitions no longer assigned
        are left alone: a new assignment starts from the committed offsets anyway."""
        thread = self._thread
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in tps]
        positions: dict[TopicPartition, int | None] = await thread.call_thread(
            seek_partitions_to_committed, thread._ensure_consumer(), wanted
        )
        rewound: dict[TP, int | None] = {}
        for aiokafka_tp, offset in positions.items():
            tp = TP(aiokafka_tp.topic, aiokafka_tp.partition)
            self._read_offset[tp] = offset or None  # as Faust's seek: 0 reads as "none"
            self._committed_offset[tp] = offset or None
            self._gap.pop(tp, None)  # a jump seen before the seek must not pass for a gap
            rewound[tp] = offset
        return rewound

    async def add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        await self._add_gap(tp, offset_from, offset_to)

    def ack_offsets(self, offsets: dict[TP, list[int]]) -> None:
        """`Consumer.ack` for many offsets: they become committable; each counts once."""
        with ack_lock:
            for tp, taken in offsets.items():
                committed = self._committed_offset[tp]
                acked_index = self._acked_index[tp]
                fresh = [
                    offset
                    for offset in taken
                    if (committed is None or offset >= committed) and offset not in acked_index
                ]
                acked_index.update(fresh)
                self._acked[tp].extend(fresh)
                self._n_acked += len(fresh)
            notify(self._waiting_for_ack)

    def take_commit_due(self) -> bool:
        """True (and the count restarted) once `broker_commit_every` acks have gathered."""
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            return True
        return False


async def seek_partitions_to_committed(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> dict[TopicPartition, int | None]:
    """On aiokafka's thread: each still-assigned partition to its committed offset."""
    positions: dict[TopicPartition, int | None] = {}
    for tp in tps:
        if tp not in consumer.assignment():
            continue
        offset = await consumer.committed(tp)
        if tp not in consumer.assignment():  # a rebalance while asking
            continue
        if offset is None or offset < 0:
            await consumer.seek_to_beginning(tp)
            positions[tp] = None
        else:
            consumer.seek(tp, offset)
            positions[tp] = offset
    return positions
