"""streams.worker.batching without a broker: the Faust internals it leans on, acks, gaps, inboxes.

A Faust app and its consumer can be built without connecting, so these tests drive the
consumer's bookkeeping directly; tests/integration covers the same path against Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import pytest
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from mode import CrashingSupervisor

from streams.core.batch import InputRecord
from streams.worker.app import BorrowerTable, Worker
from streams.worker.batching import INBOX_BATCHES, BatchingApp, BatchingConsumer, RecordBatch

CALLS = TP("calls", 0)


def fetched(*offsets: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(topic=CALLS.topic, partition=CALLS.partition, offset=offset,
                            key=b"b-1", value=b"{}") for offset in offsets]  # fmt: skip


def test_the_app_builds_a_batching_consumer_with_the_faust_internals_it_relies_on(
    app: BatchingApp,
) -> None:
    consumer = app.consumer
    assert isinstance(consumer, BatchingConsumer)
    for name in ("_read_offset", "_acked", "_acked_index", "_committed_offset", "_n_acked",
                 "_commit_every", "_waiting_for_ack", "suspend_flow", "_wait_next_records",
                 "_add_gap", "_new_offset", "highwater", "commit"):  # fmt: skip
        assert hasattr(consumer, name), name


def test_taking_records_skips_those_before_the_read_offset_and_acks_make_them_committable(
    app: BatchingApp,
) -> None:
    """As in Faust's drain loop, the read offset is the position sought to: records from it on
    are taken."""
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    consumer._read_offset[CALLS] = 4
    batch = RecordBatch(generation=0)
    app.loop.run_until_complete(consumer._take_records(CALLS, fetched(3, 4, 5, 6), batch))
    assert [record.offset for record in batch.records] == [4, 5, 6]
    assert batch.records[0] == InputRecord("calls", 0, 4, b"b-1", b"{}")
    assert consumer._read_offset[CALLS] == 6
    consumer._committed_offset[CALLS] = 5  # an offset below the committed one is not acked
    consumer.ack_batch(batch)
    assert consumer._acked[CALLS] == [5, 6]
    assert consumer._new_offset(CALLS) == 7


def rewinds_recorded(consumer: BatchingConsumer, monkeypatch: pytest.MonkeyPatch) -> list[set[TP]]:
    """Partitions the consumer asks to seek back to their committed offsets, per call (the
    seek itself runs on aiokafka's thread: tests/integration/test_rewind.py)."""
    calls: list[set[TP]] = []

    async def rewind(tps: set[TP]) -> dict[TP, int | None]:
        calls.append(set(tps))
        return dict.fromkeys(tps, 40)

    monkeypatch.setattr(consumer, "rewind_to_committed", rewind)
    return calls


def test_a_fetch_that_outlasted_a_rebalance_is_dropped_and_its_partition_read_again(
    app: BatchingApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its records may predate the seek back to the committed offset, so they are not taken;
    but aiokafka has moved past them, possibly after that seek, so the partition is sought
    back once more. Without that the next fetch would jump over them, and commits would pass
    the jump as a gap: records lost at a SIGKILL takeover until this was found."""
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    rewinds = rewinds_recorded(consumer, monkeypatch)
    inbox = app.inbox(["calls"])
    consumer._read_offset[CALLS] = 40  # where the seek after the rebalance put it
    app.consumer_generation_id = 3
    records = {CALLS: fetched(57, 58)}  # fetched in generation 2, CALLS assigned then
    left, _ = app.loop.run_until_complete(consumer.route_fetch(records, None, 2, {CALLS}))
    assert left == {}
    assert inbox.queue.empty()
    assert consumer._read_offset[CALLS] == 40
    assert consumer._new_offset(CALLS) is None  # nothing became committable
    assert rewinds == [{CALLS}]


@pytest.mark.parametrize("flow_stopped", [True, False], ids=["flow stopped", "flow running"])
def test_a_partition_is_read_again_only_when_its_batch_could_not_be_queued(
    app: BatchingApp, monkeypatch: pytest.MonkeyPatch, flow_stopped: bool
) -> None:
    """A revocation that began since the fetch leaves the batch undeliverable: its partition is
    sought back. A batch queued whole needs nothing of the kind."""
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    rewinds = rewinds_recorded(consumer, monkeypatch)
    monkeypatch.setattr(consumer, "highwater", lambda tp: 100)
    inbox = app.inbox(["calls"])
    if flow_stopped:
        consumer.stop_flow()
    app.loop.run_until_complete(consumer.route_fetch({CALLS: fetched(0, 1)}, None, 0, set()))
    assert inbox.queue.qsize() == (0 if flow_stopped else 1)
    assert rewinds == ([{CALLS}] if flow_stopped else [])


def test_a_rewind_resets_faust_s_read_and_committed_offsets_and_forgets_gaps(
    app: BatchingApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What aiokafka's thread answers (the committed offsets it sought to; a partition no
    longer assigned is left out) becomes Faust's bookkeeping, as its own seek does."""
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    other = TP("calls", 1)
    asked: list[list[tuple[str, int]]] = []

    async def call_thread(function: object, aiokafka_consumer: object, tps: list) -> dict:
        asked.append(sorted(tps))
        return {tps[0]: 40}  # CALLS sought to 40; `other` is no longer assigned

    monkeypatch.setattr(consumer._thread, "call_thread", call_thread)
    monkeypatch.setattr(consumer._thread, "_ensure_consumer", lambda: None)
    consumer._read_offset[CALLS] = 57
    app.loop.run_until_complete(consumer._add_gap(CALLS, 41, 56))
    rewound = app.loop.run_until_complete(consumer.rewind_to_committed([CALLS, other]))
    assert asked == [[("calls", 0), ("calls", 1)]]
    assert rewound == {CALLS: 40}
    assert consumer._read_offset[CALLS] == 40
    assert consumer._committed_offset[CALLS] == 40
    assert not consumer._gap.get(CALLS)
    consumer.ack_batch(batch_of(0, 57))
    assert consumer._new_offset(CALLS) is None  # 40..56 were never taken: no commit past them


def test_a_partition_assigned_during_the_fetch_keeps_its_records(
    app: BatchingApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was read from its committed offset, the position the rebalance gave it."""
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    monkeypatch.setattr(consumer, "highwater", lambda tp: 100)
    inbox = app.inbox(["calls"])
    consumer._read_offset[CALLS] = 57  # its committed offset
    app.consumer_generation_id = 3
    records = {CALLS: fetched(57, 58)}  # fetched in generation 2, before CALLS was assigned
    app.loop.run_until_complete(consumer.route_fetch(records, None, 2, set()))
    assert [record.offset for record in inbox.queue.get_nowait().records] == [57, 58]
    assert consumer._read_offset[CALLS] == 58


def test_an_offset_gap_in_a_fetch_does_not_block_the_commit_past_it(app: BatchingApp) -> None:
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    consumer._read_offset[CALLS] = 9
    consumer._committed_offset[CALLS] = 9
    batch = RecordBatch(generation=0)
    # 12 and 13 are transaction markers: never delivered, so never acked
    app.loop.run_until_complete(consumer._take_records(CALLS, fetched(10, 11, 14), batch))
    consumer.ack_batch(batch)
    assert consumer._new_offset(CALLS) == 15


def test_acking_the_same_batch_twice_counts_its_offsets_once(app: BatchingApp) -> None:
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    batch = RecordBatch(0, [], {CALLS: [0, 1, 2]})
    consumer.ack_batch(batch)
    consumer.ack_batch(batch)
    assert consumer._acked[CALLS] == [0, 1, 2]
    assert consumer._n_acked == 3


def record_at(offset: int) -> InputRecord:
    return InputRecord("calls", 0, offset, b"b-1", b"{}")


def batch_of(generation: int, *offsets: int) -> RecordBatch:
    return RecordBatch(generation, [record_at(o) for o in offsets], {CALLS: list(offsets)})


def test_batches_merge_queued_fetches_drop_stale_ones_and_ack_after_the_work(
    app: BatchingApp,
) -> None:
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    app.consumer_generation_id = 2

    async def scenario() -> list[list[int]]:
        inbox = app.inbox(["calls"])
        for batch in (batch_of(1, 0, 1), batch_of(2, 2, 3), batch_of(1, 4), batch_of(2, 5)):
            inbox.queue.put_nowait(batch)
        taken: list[list[int]] = []
        batches: AsyncIterator[RecordBatch] = app.batches(inbox, max_records=100)
        batch = await anext(batches)
        taken.append([record.offset for record in batch.records])
        assert consumer.batches_in_flight == 1
        assert not consumer._acked[CALLS]  # not before the agent asks for the next batch
        inbox.queue.put_nowait(batch_of(2, 6))
        batch = await anext(batches)
        taken.append([record.offset for record in batch.records])
        await batches.aclose()  # the agent stopped mid-batch: that batch stays unacked
        return taken

    assert app.loop.run_until_complete(scenario()) == [[2, 3, 5], [6]]
    assert consumer._acked[CALLS] == [2, 3, 5]
    assert consumer.batches_in_flight == 0


def test_a_full_inbox_holds_the_fetcher_until_the_agent_takes_and_a_rebalance_drops_it(
    app: BatchingApp,
) -> None:
    """Back-pressure without a blocking `put`: the queue is cleared at a rebalance, which
    would cancel a put waiting on it and with it the fetcher."""
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]

    async def scenario() -> None:
        inbox = app.inbox(["calls"])
        for offset in range(INBOX_BATCHES):
            inbox.queue.put_nowait(batch_of(0, offset))
        waiting = asyncio.ensure_future(consumer._deliver(inbox, batch_of(0, 99)))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # the inbox is full
        batches = app.batches(inbox, max_records=1)
        await anext(batches)  # the agent takes one: room for the waiting batch
        await asyncio.wait_for(waiting, 1)
        assert inbox.queue.qsize() == INBOX_BATCHES

        waiting = asyncio.ensure_future(consumer._deliver(inbox, batch_of(0, 100)))
        await asyncio.sleep(0.01)
        consumer.stop_flow()  # a rebalance starts: the batch is dropped, nothing raises
        await asyncio.wait_for(waiting, 1)
        assert inbox.queue.empty()
        await batches.aclose()

    app.loop.run_until_complete(scenario())


def test_a_batch_is_not_queued_once_a_rebalance_began_after_its_fetch(app: BatchingApp) -> None:
    """The fetcher may wait (offset gaps, a full inbox) after the fetch; a revocation in that
    time clears the inboxes, and a batch queued afterwards would be processed for partitions
    being revoked and could commit past records that were dropped."""
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]

    async def scenario() -> int:
        inbox = app.inbox(["calls"])
        app.consumer_generation_id = 3
        await consumer._deliver(inbox, batch_of(2, 0))  # fetched in the previous generation
        consumer.stop_flow()
        await consumer._deliver(inbox, batch_of(3, 1))  # the flow stopped since the fetch
        return inbox.queue.qsize()

    assert app.loop.run_until_complete(scenario()) == 0


def test_inboxes_are_emptied_when_the_flow_stops_and_kept_when_it_resumes(
    app: BatchingApp,
) -> None:
    """Faust resumes its flow control after seeking back to the committed offsets at the end
    of a recovery; a batch fetched during that seek is past aiokafka's position, so clearing
    it then would skip its records for good (alerts lost at a takeover until this was found).
    A revocation stops the consumer's flow first, and that is when queued batches go."""
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    inbox = app.inbox(["calls"])
    inbox.queue.put_nowait(batch_of(0, 7))
    app.flow_control.suspend()
    app.flow_control.resume()
    assert inbox.queue.qsize() == 1
    consumer.stop_flow()
    assert inbox.queue.empty()


def test_offsets_are_committed_between_batches_never_during_one(
    app: BatchingApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed: list[int] = []

    async def faust_commit(self: BatchingConsumer, *args: object, **kwargs: object) -> bool:
        committed.append(self.batches_in_flight)
        return True

    monkeypatch.setattr(AIOKafkaConsumer, "commit", faust_commit)
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]

    async def scenario() -> None:
        consumer.batch_started()
        commit = asyncio.ensure_future(consumer.commit())
        await asyncio.sleep(0.05)
        assert not commit.done()
        consumer.batch_finished()
        assert await asyncio.wait_for(commit, 1)

    app.loop.run_until_complete(scenario())
    assert committed == [0]


def test_worker_agents_crash_the_worker_instead_of_restarting(worker: Worker) -> None:
    """A failed batch stays unacked; an agent restarted in place would ack later batches and
    a commit could pass the failed one."""
    agents = list(worker.app.agents.values())
    assert len(agents) == 2  # the repartition step and the engine
    assert all(agent.supervisor_strategy is CrashingSupervisor for agent in agents)


def test_worker_hands_group_liveness_to_faust(worker: Worker) -> None:
    conf = worker.app.conf
    assert (conf.broker_session_timeout, conf.broker_heartbeat_interval) == (120.0, 5.0)
    assert conf.broker_request_timeout >= conf.broker_session_timeout
    assert (conf.consumer_group_instance_id, conf.table_standby_replicas) == ("w-7", 2)
    assert worker.app.on_consumer_closed is not None  # a static member leaves on stop


def changelog_records(topic: str, partition: int, *entries: tuple[int, bytes, bytes | None]):
    return [SimpleNamespace(topic=topic, partition=partition, offset=offset, key=key, value=value,
                            timestamp=1_700_000_000_000, timestamp_type=0, headers=[],
                            checksum=None, serialized_key_size=len(key),
                            serialized_value_size=len(value or b""))
            for offset, key, value in entries]  # fmt: skip


@pytest.fixture
def restoring() -> Iterator[tuple[BatchingApp, BorrowerTable, TP, TP]]:
    """An app as the worker builds it (raw keys and values) with one table whose two changelog
    partitions are in active recovery: offsets up to 1 of the first already applied."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = BatchingApp("restore-test", broker="kafka://127.0.0.1:9", loop=loop,
                      key_serializer="raw", value_serializer="raw")  # fmt: skip
    table = BorrowerTable(app, name="borrowers", default=None, partitions=2, key_type=bytes,
                          value_type=bytes)  # fmt: skip
    app.tables.add(table)
    first, second = (TP(table.changelog_topic.get_topic_name(), p) for p in (0, 1))
    recovery = app.tables.recovery
    for tp in (first, second):
        recovery.add_active(table, tp)
    recovery.active_offsets[first], recovery.active_offsets[second] = 1, -1
    recovery.active_highwaters[first], recovery.active_highwaters[second] = 5, 2
    recovery.in_recovery = True
    yield app, table, first, second
    asyncio.set_event_loop(None)
    loop.close()


def test_changelog_records_in_active_recovery_are_applied_a_fetch_at_a_time(
    restoring: tuple[BatchingApp, BorrowerTable, TP, TP], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same outcome as Faust's recovery loop: records at or below the recovery offset skipped,
    each key's last record wins (a tombstone deletes), what Faust's loop had buffered goes
    first, offsets advance, and recovery is signalled complete only once nothing is left."""
    app, table, first, second = restoring
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    monkeypatch.setattr(consumer, "highwater", lambda tp: 100)
    recovery = app.tables.recovery
    decode = table.changelog_topic.decode
    buffered = changelog_records(first.topic, 0, (1, b"a", b"a@1"))[0]
    recovery.buffers[table].append(
        app.loop.run_until_complete(decode(consumer.to_message(first, buffered)))
    )
    records = {
        first: changelog_records(first.topic, 0, (0, b"z", b"z@0"), (1, b"z", b"z@1"),
                                 (2, b"a", b"a@2"), (3, b"b", b"b@3"), (4, b"b", None),
                                 (5, b"c", b"c@5")),
        second: changelog_records(second.topic, 1, (0, b"d", b"d@0"), (1, b"e", b"e@1")),
        CALLS: fetched(7),
    }  # fmt: skip
    left, _ = app.loop.run_until_complete(consumer.route_fetch(records, None, 0, set()))
    assert list(left) == [CALLS]  # no inbox for it here: left to Faust
    assert not recovery.buffers[table]  # applied before the fetch, not after it
    assert dict(table.data) == {b"a": b"a@2", b"c": b"c@5", b"d": b"d@0", b"e": b"e@1"}
    assert table.partition_of == {b"a": 0, b"c": 0, b"d": 1, b"e": 1}
    assert (recovery.active_offsets[first], recovery.active_offsets[second]) == (5, 1)
    assert consumer._read_offset[first] == 5
    assert not recovery.signal_recovery_end.is_set()  # the second partition is one behind
    more = {second: changelog_records(second.topic, 1, (2, b"d", b"d@2"))}
    app.loop.run_until_complete(consumer.route_fetch(more, None, 0, set()))
    assert table.data[b"d"] == b"d@2"
    assert recovery.signal_recovery_end.is_set()


def test_changelog_records_keep_faust_s_path_while_its_queue_holds_older_ones(
    restoring: tuple[BatchingApp, BorrowerTable, TP, TP],
) -> None:
    """Faust's recovery loop has not yet taken what an earlier fetch queued on its path;
    applying this fetch first would move the offset past those records, and the loop would
    then skip them as already applied."""
    app, table, first, _ = restoring
    consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
    queued = changelog_records(first.topic, 0, (2, b"a", b"a@2"))[0]
    event = app.loop.run_until_complete(
        table.changelog_topic.decode(consumer.to_message(first, queued))
    )
    app.tables.changelog_queue.put_nowait(event)
    records = {first: changelog_records(first.topic, 0, (3, b"a", b"a@3"))}
    left, _ = app.loop.run_until_complete(consumer.route_fetch(records, None, 0, set()))
    assert list(left) == [first]  # on to Faust's path, behind the queued record
    assert not table.data
    assert app.tables.recovery.active_offsets[first] == 1


def test_changelog_records_outside_recovery_keep_faust_s_path(
    restoring: tuple[BatchingApp, BorrowerTable, TP, TP],
) -> None:
    app, table, first, _ = restoring
    app.tables.recovery.in_recovery = False
    records = {first: changelog_records(first.topic, 0, (2, b"a", b"a@2"))}
    left, _ = app.loop.run_until_complete(app.consumer.route_fetch(records, None, 0, set()))
    assert list(left) == [first]
    assert not table.data
