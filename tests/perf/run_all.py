"""The benchmark suite (`make bench`): every performance figure in one run, one JSON file.

Run: .venv/bin/python -m tests.perf.run_all [--quick] [--events N] [--borrowers N]

One local broker serves the whole suite, so the ceiling, reachwatch and the Quix Streams peer
read the same pre-filled topics on the same machine minutes apart. Every measurement prints its
figure when it completes and is saved at once (a later failure keeps earlier figures); a
failing measurement is recorded with its error and the suite goes on. The load average is
stored next to each figure because the machine is shared. Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shutil
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import orjson

from streams.local_kafka.broker import start_local_kafka
from tests.perf import bench_decode, bench_engine, ceiling, e2e, failover, quix_peer
from tests.perf.report import console_table, shell_overhead_us
from tests.perf.workload import PARTITIONS, Topics, fill, one_attempt_each, simulated

RESULTS = Path("bench-results/results.json")
WORK_DIR = Path("bench-results/work")
MILLION = 1_000_000


class Suite:
    """Collects measurements into one result document, saved after each one."""

    def __init__(self, parameters: dict, budget_s: float) -> None:
        self.began = time.monotonic()
        self.budget_s = budget_s
        self.doc: dict = {
            "parameters": parameters,
            "environment": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average_at_start": os.getloadavg(),
            },
            "measurements": {},
        }

    def remaining_s(self) -> float:
        return self.budget_s - (time.monotonic() - self.began)

    def measure(self, name: str, run: Callable[[], dict], line: Callable[[dict], str]) -> dict:
        load_before = os.getloadavg()[0]
        began = time.monotonic()
        try:
            result = run()
        except Exception as error:  # recorded; the suite goes on
            result = {"error": f"{type(error).__name__}: {error}"}
            traceback.print_exc()
            print(f"{name}: FAILED {result['error'][:300]}", flush=True)
        else:
            print(f"{name}: {line(result)}", flush=True)
        result["load_1m_before_after"] = [load_before, os.getloadavg()[0]]
        result["measurement_wall_s"] = round(time.monotonic() - began, 1)
        self.doc["measurements"][name] = result
        self.save()
        return result

    def save(self) -> None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_bytes(orjson.dumps(self.doc, option=orjson.OPT_INDENT_2))


def rate(result: dict) -> str:
    return f"{result['events_per_s']:,} events/s ({result['events']:,} in {result['seconds']} s)"


def ratio(numerator: dict, denominator: dict) -> float | None:
    if "events_per_s" not in numerator or "events_per_s" not in denominator:
        return None
    return round(numerator["events_per_s"] / denominator["events_per_s"], 3)


def in_fresh_process(measurement: Callable[..., dict], *args: object) -> dict:
    """Run a measurement in a new interpreter. This process holds the suite's large heap, and
    its garbage collections would show up as latency: reproduced with 6,000,000 live objects,
    event→alert p99 went from ~60 ms to 1,600 ms (the worker's own histogram too, as the
    events' time is taken before the stalled send)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measurement, *args).result()


def memory_line(result: dict) -> str:
    text = (f"RSS {result['rss_bytes'] / 2**20:,.0f} MiB for {result['borrowers']:,} borrowers "
            f"({result['rss_bytes_per_borrower']:,} B each, loaded at "
            f"{result['load_events_per_s']:,} events/s)")  # fmt: skip
    if "recovery_s" in result:
        text += (f"; fresh worker restored {result['recovered_borrowers_tracked']:,.0f} "
                 f"in {result['recovery_s']} s")  # fmt: skip
    return text


def end_to_end(suite: Suite, bootstrap: str, args: argparse.Namespace) -> None:
    """Sections 3 to 6: latency first (the figure most sensitive to a busy broker and a large
    heap here), then saturation, ceiling, peer, memory and recovery."""
    suite.measure(
        "latency",
        partial(
            in_fresh_process, e2e.latency, bootstrap, WORK_DIR, args.rate, args.latency_seconds
        ),
        lambda r: (
            f"send→alert received p50 {r['send_to_alert_received']['p50_ms']} ms, "
            f"p99 {r['send_to_alert_received']['p99_ms']} ms over {r['alerts_received']:,} alerts "
            f"at {r['offered_events_per_s']:,} events/s"
        ),
    )
    main = Topics.create(bootstrap, "main")
    suite.measure("prefill", lambda: {"events": fill(main, simulated(args.events, args.borrowers)),
                                      "borrowers": args.borrowers, "partitions": PARTITIONS},
                  lambda r: f"{r['events']:,} simulated events in the input topics")  # fmt: skip
    top = suite.measure("ceiling_bare_aiokafka", lambda: ceiling.run(main, args.events), rate)
    ours = suite.measure("e2e_saturation_reachwatch",
                         lambda: e2e.saturation(main, args.events, WORK_DIR), rate)  # fmt: skip
    peer = suite.measure("peer_quix_streams",
                         lambda: quix_peer.run(main, args.events, WORK_DIR), rate)  # fmt: skip
    two = partial(e2e.saturation, main, args.events, WORK_DIR, workers=2)
    pair = suite.measure("e2e_saturation_reachwatch_2_workers", two, rate)
    eos = partial(e2e.saturation, main, args.events, WORK_DIR, guarantee="exactly_once")
    eos_result = suite.measure("e2e_saturation_reachwatch_exactly_once", eos, rate)
    suite.doc["ratios"] = {"reachwatch_over_ceiling": ratio(ours, top),
                           "reachwatch_over_quix_peer": ratio(ours, peer),
                           "two_workers_over_ceiling": ratio(pair, top),
                           "two_workers_over_quix_peer": ratio(pair, peer),
                           "two_workers_over_one": ratio(pair, ours),
                           "exactly_once_over_at_least_once": ratio(eos_result, ours),
                           "shell_overhead_us_per_event": shell_overhead_us(suite.doc)}  # fmt: skip
    print(f"ratios: {suite.doc['ratios']}", flush=True)
    for borrowers in args.memory_borrowers:
        memory_and_recovery(suite, bootstrap, borrowers)
    suite.measure("failover", partial(in_fresh_process, failover.run, bootstrap, WORK_DIR),
                  failover_line)  # fmt: skip


def failover_line(result: dict) -> str:
    kill, restart = result["sigkill"], result["sigterm_restart"]
    return (f"largest alert gap on the moved partitions: SIGKILL {kill['largest_gap_moved_s']} s, "
            f"SIGTERM restart {restart['largest_gap_moved_s']} s; {result['lost']} lost, "
            f"{result['made_up']} made up of {result['events_sent']:,} events "
            f"({result['borrowers']:,} borrowers held)")  # fmt: skip


def memory_and_recovery(suite: Suite, bootstrap: str, borrowers: int) -> None:
    """RSS per store with `borrowers` states, recovery (memory store) at 100,000; skips what
    cannot fit the time budget."""
    topics = Topics.create(bootstrap, f"mem{borrowers}")
    suite.measure(
        f"prefill_{borrowers}_borrowers",
        lambda: {"events": fill(topics, one_attempt_each(borrowers))},
        lambda r: f"{r['events']:,} events, one per borrower",
    )
    for store in ("memory://", "rocksdb://"):
        kind = store.removesuffix("://")
        name = f"memory_{kind}_{borrowers}"
        smaller = suite.doc["measurements"].get(f"memory_{kind}_100000", {})
        projected = 1.5 * borrowers / smaller.get("load_events_per_s", 1) + 60
        if borrowers > 100_000 and projected > suite.remaining_s():
            reason = f"projected {projected:.0f} s, {suite.remaining_s():.0f} s of budget left"
            suite.doc["measurements"][name] = {"skipped": reason}
            print(f"{name}: skipped ({reason})", flush=True)
            continue
        load = partial(e2e.load_and_recover, topics, borrowers, WORK_DIR, store,
                       recover=borrowers == 100_000 and store == "memory://")  # fmt: skip
        suite.measure(name, load, memory_line)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under ~5 minutes")
    parser.add_argument("--events", type=int, help="saturation events (200,000; quick 50,000)")
    parser.add_argument("--borrowers", type=int, help="their borrowers (20,000; quick 5,000)")
    args = parser.parse_args()
    args.events = args.events or (50_000 if args.quick else 200_000)
    args.borrowers = args.borrowers or (5_000 if args.quick else 20_000)
    args.rate = 1_000
    args.latency_seconds = 15.0 if args.quick else 30.0
    args.memory_borrowers = [100_000] if args.quick else [100_000, MILLION]
    args.budget_s = 300.0 if args.quick else 1200.0
    return args


def main() -> None:
    args = parse_args()
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    suite = Suite(dict(vars(args)), args.budget_s)
    suite.measure("decode", lambda: bench_decode.run(min(args.events, 200_000), rounds=3),
                  lambda r: f"{r['events_per_second']:,} events/s "
                  f"({r['events_per_cpu_second']:,}/CPU s)")  # fmt: skip
    suite.measure("engine", lambda: bench_engine.run(args.events, args.borrowers),
                  lambda r: f"apply {r['apply_events_per_s']:,} events/s, with state round trip "
                  f"{r['apply_with_state_round_trip_events_per_s']:,}/s, "
                  f"{r['state_size']['mean_bytes']} B state at 20 attempts")  # fmt: skip
    broker = start_local_kafka()
    suite.doc["environment"]["kafka"] = broker.version
    try:
        end_to_end(suite, broker.bootstrap, args)
    finally:
        broker.stop()
        shutil.rmtree(WORK_DIR / "quix-state", ignore_errors=True)
    suite.doc["environment"]["load_average_at_end"] = os.getloadavg()
    suite.doc["total_wall_s"] = round(time.monotonic() - suite.began, 1)
    suite.save()
    print()
    print(console_table(suite.doc))
    print("README's table: .venv/bin/python -m tests.perf.readme_table")
    print(f"\n{RESULTS} (total {suite.doc['total_wall_s']} s, load {os.getloadavg()[0]:.2f})")
    print("README's table from it: .venv/bin/python -m tests.perf.readme_table")


if __name__ == "__main__":
    main()
