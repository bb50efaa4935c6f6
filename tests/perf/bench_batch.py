"""The worker's pure per-batch work, with and without the decoded-state cache (a script, not a
test).

Run: .venv/bin/python -m tests.perf.bench_batch [--borrowers N] [--days D] [--repeat R]
     [--cache N ...]

The simulator's population (README example mix, default faults) goes through `BatchProcessor`
in worker-sized batches with a store of state bytes, as the worker's table keeps them; each
alert is encoded as the worker encodes it before sending. Reported per cache size: CPU µs per
event (process time, best of `--repeat`) for the batch step alone and with alert encoding, the
cache's hit share, and the memory a cached borrower costs (tracemalloc: the cache's states over
the bytes the store holds anyway). Writes bench-results/batch.json.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

from streams.core.batch import BatchProcessor, InputRecord
from streams.core.config import EngineConfig
from tests.perf.bench_shadow import (
    BATCH_EVENTS,
    KINDS,
    RECEIVED_AT_MS,
    population_parser,
    records,
    report,
)


def run_once(stream: list[InputRecord], cache_borrowers: int) -> dict:
    processor = BatchProcessor(
        EngineConfig(), KINDS, require_key=True, cache_borrowers=cache_borrowers
    )
    store: dict[bytes, bytes] = {}
    step_s = encode_s = 0.0
    alerts = 0
    for first in range(0, len(stream), BATCH_EVENTS):
        started = time.process_time()
        result = processor.process(
            stream[first : first + BATCH_EVENTS], lambda k, _: store.get(k), RECEIVED_AT_MS
        )
        for key, write in result.writes.items():
            if write.value is None:
                store.pop(key, None)
            else:
                store[key] = write.value
        encoded = time.process_time()
        for _, alert in result.alerts:
            alert.encode(RECEIVED_AT_MS)
        done = time.process_time()
        step_s += encoded - started
        encode_s += done - encoded
        alerts += len(result.alerts)
    cache = processor.caches[0]
    looked_up = 0 if cache is None else cache.hits + cache.misses
    return {
        "step_s": step_s,
        "encode_s": encode_s,
        "alerts": alerts,
        "hit_share": round(cache.hits / looked_up, 3) if cache and looked_up else None,
    }


def cached_bytes_per_borrower(stream: list[InputRecord], cache_borrowers: int) -> dict:
    """Memory the cache's states hold: one full pass with the cache, then its entries' traced
    size less the stored bytes they share with the store."""
    gc.collect()
    tracemalloc.start()
    processor = BatchProcessor(
        EngineConfig(), KINDS, require_key=True, cache_borrowers=cache_borrowers
    )
    store: dict[bytes, bytes] = {}
    for first in range(0, len(stream), BATCH_EVENTS):
        result = processor.process(
            stream[first : first + BATCH_EVENTS], lambda k, _: store.get(k), RECEIVED_AT_MS
        )
        store.update({key: write.value for key, write in result.writes.items() if write.value})
    cache = processor.caches[0]
    assert cache is not None
    gc.collect()
    with_cache = tracemalloc.get_traced_memory()[0]
    cached = len(cache)
    cache.clear()
    gc.collect()
    without = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {
        "cached_borrowers": cached,
        "bytes_per_cached_borrower": round((with_cache - without) / max(cached, 1)),
    }


def run(borrowers: int, days: int, repeat: int, caches: list[int]) -> dict:
    stream = records(borrowers, days)
    load_before = os.getloadavg()[0]
    run_once(stream[:BATCH_EVENTS], 0)  # warm caches (zones, compiled engines)
    runs: dict[int, list[dict]] = {size: [] for size in caches}
    for _ in range(repeat):  # interleaved, so a change in the machine's load hits every size
        for cache_borrowers in caches:
            runs[cache_borrowers].append(run_once(stream, cache_borrowers))
    figures = {}
    for cache_borrowers in caches:
        best = min(runs[cache_borrowers], key=lambda r: r["step_s"] + r["encode_s"])
        per_event = 1e6 / len(stream)
        figures[str(cache_borrowers)] = {
            "step_cpu_us_per_event": round(best["step_s"] * per_event, 2),
            "alert_encoding_cpu_us_per_event": round(best["encode_s"] * per_event, 2),
            "alerts": best["alerts"],
            "cache_hit_share": best["hit_share"],
        }
        if cache_borrowers:
            figures[str(cache_borrowers)].update(cached_bytes_per_borrower(stream, cache_borrowers))
    return {
        "events": len(stream),
        "borrowers": borrowers,
        "days": days,
        "batch_events": BATCH_EVENTS,
        "by_cache_borrowers": figures,
        "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = population_parser(__doc__.splitlines()[0], "bench-results/batch.json")
    parser.add_argument("--cache", type=int, nargs="+", default=[0, 100_000])
    args = parser.parse_args()
    report(run(args.borrowers, args.days, args.repeat, args.cache), args.out)


if __name__ == "__main__":
    main()
