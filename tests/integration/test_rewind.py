"""The seek behind `rewind_to_committed`, against the real broker and aiokafka.

When the worker drops records aiokafka already returned (a fetch that outlasted a rebalance),
it seeks their partitions back to the committed offsets on aiokafka's thread; this runs that
step on a plain aiokafka consumer: dropped records come back, from the committed offset, or
from the beginning where nothing was committed (Faust's own seek leaves those alone).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from streams.worker.faust_internals import seek_partitions_to_committed
from tests.support.kafka import create_topics, unique_name

RECORDS = 10


async def first_offsets(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> dict:
    """The first offset the next fetches return per partition (none: nothing came in 20 s)."""
    firsts: dict[TopicPartition, int] = {}
    for _ in range(20):
        if firsts.keys() == set(tps):
            break
        for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
            firsts.setdefault(tp, records[0].offset)
    return firsts


def test_dropped_records_are_read_again_from_the_committed_offset_or_the_beginning(
    kafka_bootstrap: str,
) -> None:
    topic, group = unique_name("rewind"), unique_name("rewind-group")
    create_topics(kafka_bootstrap, [topic], partitions=3)
    committed, uncommitted, unassigned = (TopicPartition(topic, p) for p in range(3))

    async def scenario() -> tuple[dict, dict]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for partition in range(3):
                for _ in range(RECORDS):
                    await producer.send_and_wait(topic, b"v", key=b"k", partition=partition)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group,
                                    enable_auto_commit=False,
                                    auto_offset_reset="earliest")  # fmt: skip
        await consumer.start()
        try:
            consumer.assign([committed, uncommitted])
            await consumer.commit({committed: OffsetAndMetadata(4, "")})
            await consumer.seek_to_end(committed, uncommitted)  # as if all were read, dropped
            positions = await seek_partitions_to_committed(
                consumer, [committed, uncommitted, unassigned]
            )
            return positions, await first_offsets(consumer, [committed, uncommitted])
        finally:
            await consumer.stop()

    positions, firsts = asyncio.run(scenario())
    assert positions == {committed: 4, uncommitted: None}
    assert firsts == {committed: 4, uncommitted: 0}
