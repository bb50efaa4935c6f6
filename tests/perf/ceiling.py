"""The ceiling: a bare aiokafka consumer that only reads and `orjson.loads` every record.

Nothing a stream processor can do on the same broker, topics and machine is faster, so the
worker's saturation rate is reported as a share of this.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.perf.workload import PARTITIONS, Topics


async def _consume(topics: Topics, total: int) -> dict:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=topics.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(
            [
                TopicPartition(t, p)
                for t in (topics.call, topics.repayment)
                for p in range(PARTITIONS)
            ]
        )
        seen, first_at, first_batch = 0, 0.0, 0
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
            if seen and not first_at:
                first_at, first_batch = time.perf_counter(), seen
        elapsed = time.perf_counter() - first_at
    finally:
        await consumer.stop()
    return {
        "events": seen,
        "seconds": round(elapsed, 3),
        "events_per_s": round((seen - first_batch) / elapsed),
    }


def run(topics: Topics, total: int) -> dict:
    """Read `total` records from both input topics; rate from the first batch to the last."""
    return asyncio.run(_consume(topics, total))
