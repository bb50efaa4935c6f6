"""Where the worker's time goes: cProfile around a real worker draining pre-filled topics.

Run: .venv/bin/python -m tests.perf.profile_worker [--events N] [--borrowers N] [--top K]

cProfile sees the main thread only: the agent, the engine and the producer run there; Faust's
aiokafka consumer runs in a thread of its own, visible here only as time the main thread
waits (`epoll`). Its overhead inflates Python-heavy code, so read the shares, not the
absolute times. Stats go to bench-results/worker.prof for `python -m pstats`.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
from pathlib import Path

from streams.local_kafka.broker import start_local_kafka
from tests.perf.worker import BenchWorker
from tests.perf.workload import Topics, fill, simulated

PROFILE = Path("bench-results/worker.prof")
WORK_DIR = Path("bench-results/profile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--borrowers", type=int, default=5_000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    broker = start_local_kafka()
    try:
        topics = Topics.create(broker.bootstrap, "profile")
        fill(topics, simulated(args.events, args.borrowers))
        bench = BenchWorker(topics, WORK_DIR, profile_to=PROFILE.resolve())
        bench.start("profiled")
        try:
            first_at, last_at, first_count = bench.drain(args.events)
        finally:
            bench.stop()
    finally:
        broker.stop()
    rate = (args.events - first_count) / (last_at - first_at)
    print(f"{args.events:,} events at {rate:,.0f} events/s under cProfile → {PROFILE}")
    stats = pstats.Stats(str(PROFILE))
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
