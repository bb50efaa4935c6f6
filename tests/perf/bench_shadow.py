"""What a challenger config costs the batch step (a script, not a test).

Run: .venv/bin/python tests/perf/bench_shadow.py [--borrowers N] [--days D] [--repeat R]

The simulator's population (README example mix, default faults) goes through `BatchProcessor` in
worker-sized batches (`BATCH_EVENTS`) with 0, 1 and 2 challengers, each config keeping its states
in its own dict as the worker keeps them in its own table. Reported: CPU µs per event (process
time, best of `--repeat`) for each count, and the extra cost per challenger. It covers decode,
engine and state (de)serialisation; the worker also sends each challenger's alerts and changelog
messages, which the end-to-end benchmark measures for the champion. Writes
bench-results/shadow.json.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import orjson

from streams.core.batch import BatchProcessor, InputRecord
from streams.core.config import (
    ConsecutiveUnansweredConfig,
    EngineConfig,
    LowContactRateConfig,
    RulesConfig,
    SeverityLevel,
)
from streams.tools.simulate import Simulation, parse_start

BATCH_EVENTS = 5000  # the worker's BATCH_MAX_EVENTS
RECEIVED_AT_MS = 4_102_444_800_000  # 2100-01-01: the worker's clock, after every simulated event
KINDS = {"call_attempt": "call_attempt", "repayment": "repayment"}
CHALLENGERS = (
    EngineConfig(
        rules=RulesConfig(
            consecutive_unanswered=ConsecutiveUnansweredConfig(
                levels=(SeverityLevel(3, "warning"), SeverityLevel(6, "critical"))
            )
        ),
        version="early",
    ),
    EngineConfig(
        rules=RulesConfig(low_contact_rate=LowContactRateConfig(max_contact_rate=0.2)),
        version="rate",
    ),
)


def records(borrowers: int, days: int) -> list[InputRecord]:
    simulation = Simulation(borrowers=borrowers, days=days, seed=1, start=parse_start("2026-11-01"))
    return [
        InputRecord(record.kind, 0, offset, record.key.encode(), record.value)
        for offset, record in enumerate(simulation.records())
    ]


def run_once(batch_records: list[InputRecord], challengers: int) -> tuple[float, int]:
    """CPU seconds for the whole stream, and the alerts of every config together."""
    processor = BatchProcessor(EngineConfig(), KINDS, require_key=True,
                               challengers=CHALLENGERS[:challengers])  # fmt: skip
    stores: list[dict[bytes, bytes]] = [{} for _ in range(challengers + 1)]
    loads = [lambda key, _p, store=store: store.get(key) for store in stores]
    alerts = 0
    start = time.process_time()
    for first in range(0, len(batch_records), BATCH_EVENTS):
        batch = batch_records[first : first + BATCH_EVENTS]
        result = processor.process(batch, loads[0], RECEIVED_AT_MS, loads[1:])
        for store, lane in zip(stores, [result, *result.shadows], strict=True):
            alerts += len(lane.alerts)
            for key, write in lane.writes.items():
                if write.value is None:
                    store.pop(key, None)
                else:
                    store[key] = write.value
    return time.process_time() - start, alerts


def run(borrowers: int, days: int, repeat: int) -> dict:
    stream = records(borrowers, days)
    load_before = os.getloadavg()[0]
    run_once(stream[:BATCH_EVENTS], 2)  # warm caches (zones, compiled engines)
    figures = {}
    for challengers in (0, 1, 2):
        best, alerts = min(run_once(stream, challengers) for _ in range(repeat))
        figures[str(challengers)] = {"cpu_us_per_event": round(best / len(stream) * 1e6, 2),
                                "alerts": alerts}  # fmt: skip
    base = figures["0"]["cpu_us_per_event"]
    return {
        "events": len(stream),
        "borrowers": borrowers,
        "days": days,
        "by_challengers": figures,
        "extra_us_per_event_per_challenger": round(
            (figures["2"]["cpu_us_per_event"] - base) / 2, 2
        ),
        "extra_share_first_challenger": round(figures["1"]["cpu_us_per_event"] / base - 1, 3),
        "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def population_parser(description: str, out: str) -> argparse.ArgumentParser:
    """The options of a benchmark over the simulated population (this one and bench_batch)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--borrowers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(out))
    return parser


def report(result: dict, out: Path) -> None:
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


def main() -> None:
    args = population_parser(__doc__.splitlines()[0], "bench-results/shadow.json").parse_args()
    report(run(args.borrowers, args.days, args.repeat), args.out)


if __name__ == "__main__":
    main()
