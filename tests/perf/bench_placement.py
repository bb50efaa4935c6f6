"""What the partition check costs the batch step (a script, not a test).

Run: .venv/bin/python -m tests.perf.bench_placement [--events N] [--borrowers N]

The simulated mix (`workload.simulated`) as Kafka records on the partitions the default
partitioner gives them, in batches of the worker's size: the whole batch step
(`BatchProcessor.process`, in-memory store, no check) for scale, then the check alone
(`BatchProcessor.misplaced`) with the key-hash cache kept (warm: the population fits it) and
emptied before every batch (cold: a key's first sight in a batch pays kafka-python's
pure-Python murmur2). CPU µs per event; the check's best of `--repeat`. Separate, because the
check costs a few per cent of the step, well inside the step's run-to-run noise.
"""

from __future__ import annotations

import argparse
import time

import orjson

from streams.core.batch import BatchProcessor, BatchResult, InputRecord
from streams.core.config import EngineConfig
from streams.core.decoding import DECODERS
from streams.worker.app import BATCH_MAX_EVENTS
from streams.worker.partitioning import _positive_murmur2, default_partition, default_placement
from tests.perf.workload import PARTITIONS, simulated

KINDS = {kind: kind for kind in DECODERS}


def records(events: int, borrowers: int) -> list[InputRecord]:
    return [
        InputRecord(m.kind, default_partition(m.key, PARTITIONS), offset, m.key, m.value)
        for offset, m in enumerate(simulated(events, borrowers))
    ]


def process_us(batch: list[InputRecord]) -> float:
    """CPU µs per event of the whole batch step (no check), fresh in-memory store."""
    processor = BatchProcessor(EngineConfig(), KINDS, require_key=True)
    stored: dict[bytes, bytes] = {}

    def load(key: bytes, _partition: int) -> bytes | None:
        return stored.get(key)

    elapsed = 0.0
    for start in range(0, len(batch), BATCH_MAX_EVENTS):
        began = time.process_time()
        result = processor.process(batch[start : start + BATCH_MAX_EVENTS], load, 0)
        elapsed += time.process_time() - began
        stored.update((k, w.value) for k, w in result.writes.items() if w.value is not None)
    return round(elapsed / len(batch) * 1e6, 2)


def check_us(batch: list[InputRecord], cold: bool, repeat: int) -> float:
    """CPU µs per event of the partition check alone, best of `repeat`."""
    processor = BatchProcessor(
        EngineConfig(), KINDS, require_key=True,
        placement=default_placement(dict.fromkeys(KINDS, PARTITIONS)),
    )  # fmt: skip
    result = BatchResult()
    best = float("inf")
    for _ in range(repeat):
        _positive_murmur2.cache_clear()
        elapsed = 0.0
        for start in range(0, len(batch), BATCH_MAX_EVENTS):
            if cold:
                _positive_murmur2.cache_clear()
            began = time.process_time()
            for record in batch[start : start + BATCH_MAX_EVENTS]:
                processor.misplaced(record, record.key or b"", result)  # all keyed by borrower
            elapsed += time.process_time() - began
        best = min(best, elapsed)
    assert not result.misrouted
    return round(best / len(batch) * 1e6, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--borrowers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    batch = records(args.events, args.borrowers)
    result = {
        "events": len(batch),
        "borrowers": args.borrowers,
        "batch": BATCH_MAX_EVENTS,
        "batch_step_us": process_us(batch),
        "check_warm_cache_us": check_us(batch, False, args.repeat),
        "check_cold_cache_us": check_us(batch, True, args.repeat),
    }
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
