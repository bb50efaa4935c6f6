"""The idle-eviction sweep without a broker: it judges its keys a slice at a time under the state
lock, so a batch waiting for the lock runs in between, and each slice evicts exactly the idle
states of partitions this worker still owns."""

from __future__ import annotations

import asyncio

import pytest

from streams.core.engine import BorrowerState
from streams.worker.app import SWEEP_SLICE_KEYS, ChangelogRecords, Worker

OWNED, OTHER = 0, 1


def test_a_batch_takes_the_lock_between_sweep_slices(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    lane = worker.lanes[0]
    table = lane.table
    idle = BorrowerState().to_bytes()  # no event ever: idle at any watermark past the eviction age
    keys = {OWNED: [f"own-{n}".encode() for n in range(2 * SWEEP_SLICE_KEYS + 7)],
            OTHER: [f"other-{n}".encode() for n in range(SWEEP_SLICE_KEYS)]}  # fmt: skip
    for partition, partition_keys in keys.items():
        for key in partition_keys:
            table.data[key] = idle
            table.remember(key, partition)
    eviction_age = worker.settings.engine.idle_eviction_ms
    lane.watermark_ms = {OWNED: 2 * eviction_age, OTHER: 2 * eviction_age}
    tombstones: list[tuple[bytes, bytes | None]] = []

    async def publish(_table: object, records: ChangelogRecords) -> list[object]:
        assert set(records) == {OWNED}
        tombstones.extend(records[OWNED])
        return []

    monkeypatch.setattr(worker, "_active_partitions", lambda: {OWNED})
    monkeypatch.setattr(worker, "_publish_changelog", publish)

    async def scenario() -> tuple[bool, int]:
        sweep = asyncio.create_task(worker._sweep_lane(lane, {OWNED}))
        await asyncio.sleep(0)  # the sweep starts, its first slice holds the lock
        async with worker._state_lock:  # as a batch does
            seen = sweep.done(), len(tombstones)
        await sweep
        return seen

    try:
        sweep_done, evicted_before_batch = asyncio.run(scenario())
    finally:
        for key in keys[OWNED] + keys[OTHER]:
            table.data.pop(key, None)
        lane.sweep_cursor.clear()
    assert not sweep_done  # the batch got in while slices were left
    assert evicted_before_batch == SWEEP_SLICE_KEYS  # exactly one slice, all of it idle
    assert sorted(key for key, _ in tombstones) == sorted(keys[OWNED])
    assert all(value is None for _, value in tombstones)
    assert not any(key in table.partition_of for key in keys[OWNED])
    assert all(table.partition_of[key] == OTHER for key in keys[OTHER])
    for key in keys[OTHER]:
        table.forget(key)
