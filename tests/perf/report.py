"""The figures of one `make bench` run as rows: the console table and README's table share them.

Every row comes from bench-results/results.json; derived rows (ratios, the shell overhead) are
computed here from figures of the same run, so no figure is ever typed by hand. A figure the run
did not produce (a failed or skipped measurement) shows as "—".
"""

from __future__ import annotations

from typing import NamedTuple


class Row(NamedTuple):
    name: str
    value: float | int | None
    unit: str
    target: str


def _get(doc: dict, name: str, *path: str) -> float | int | None:
    value: object = doc.get("measurements", {}).get(name, {})
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def _us(rate: float | None) -> float | None:
    return None if not rate else 1e6 / rate


def shell_overhead_us(doc: dict) -> float | None:
    """CPU a worker event costs beyond decoding and the engine with its state round trip, in µs:
    the worker's time per event less the two pure benchmarks' (all from the same run)."""
    worker = _us(_get(doc, "e2e_saturation_reachwatch", "events_per_s"))
    decode = _us(_get(doc, "decode", "events_per_second"))
    engine = _us(_get(doc, "engine", "apply_with_state_round_trip_events_per_s"))
    if worker is None or decode is None or engine is None:
        return None
    return round(worker - decode - engine, 1)


def rows(doc: dict) -> list[Row]:
    """Each figure of the run with its unit and target, in the order the README shows them."""
    worker = _get(doc, "e2e_saturation_reachwatch", "events_per_s")
    ceiling = _get(doc, "ceiling_bare_aiokafka", "events_per_s")
    peer = _get(doc, "peer_quix_streams", "events_per_s")
    pair = _get(doc, "e2e_saturation_reachwatch_2_workers", "events_per_s")
    eos = _get(doc, "e2e_saturation_reachwatch_exactly_once", "events_per_s")
    decode = _get(doc, "decode", "events_per_second")
    round_trip = _get(doc, "engine", "apply_with_state_round_trip_events_per_s")
    pure = None if not decode or not round_trip else round(1 / (1 / decode + 1 / round_trip))
    overhead = shell_overhead_us(doc)
    worker_us = _us(worker)
    table = [
        Row("decode + validate", decode, "events/s", "≥ 200,000"),
        Row("engine `apply`", _get(doc, "engine", "apply_events_per_s"), "events/s", "≥ 250,000"),
        Row("engine with state round trip", round_trip, "events/s", "≥ 150,000"),
        Row("decode + engine with round trip, one core", pure, "events/s", ""),
        Row("ceiling: bare aiokafka `getmany` + orjson", ceiling, "events/s", ""),
        Row("Quix Streams peer (one rule, RocksDB + changelog)", peer, "events/s", ""),
        Row("worker at saturation, memory store, at-least-once", worker, "events/s", ""),
        Row("shell overhead: worker µs/event − decode − engine", overhead, "µs/event", ""),
        Row("shell share of the worker's time",
            None if overhead is None or not worker_us else round(overhead / worker_us, 3), "", ""),
        Row("worker / Quix peer", _ratio(worker, peer), "", "≥ 1.0"),
        Row("worker / ceiling", _ratio(worker, ceiling), "", "≥ 0.25"),
        Row("exactly-once", eos, "events/s", ""),
        Row("exactly-once / at-least-once", _ratio(eos, worker), "", "≥ 0.7"),
        Row("two workers of one group", pair, "events/s", ""),
        Row("two workers / one worker", _ratio(pair, worker), "", "≥ 1.0"),
        *(Row(f"workers' CPU per event, {label}", _get(doc, name, "workers_cpu_us_per_event"),
              "µs/event", "")
          for label, name in (("one worker", "e2e_saturation_reachwatch"),
                              ("two workers", "e2e_saturation_reachwatch_2_workers"),
                              ("exactly-once", "e2e_saturation_reachwatch_exactly_once"))),
        Row("event → alert p50 at 1,000 events/s",
            _get(doc, "latency", "send_to_alert_received", "p50_ms"), "ms", ""),
        Row("event → alert p99 at 1,000 events/s",
            _get(doc, "latency", "send_to_alert_received", "p99_ms"), "ms", "≤ 20"),
        Row("state per borrower, 20 attempts in window",
            _get(doc, "engine", "state_size", "mean_bytes"), "bytes", "≤ 1,024"),
        Row("failover after SIGKILL: largest alert gap, moved partitions",
            _get(doc, "failover", "sigkill", "largest_gap_moved_s"), "s", "≤ 10"),
        Row("SIGTERM restart: largest alert gap, moved partitions",
            _get(doc, "failover", "sigterm_restart", "largest_gap_moved_s"), "s", "≤ 5"),
        Row("failover: alerts lost", _get(doc, "failover", "lost"), "alerts", "0"),
    ]  # fmt: skip
    for name, result in doc.get("measurements", {}).items():
        if name.startswith("memory_") and isinstance(result, dict):
            table.append(Row(f"RSS per borrower, {name.removeprefix('memory_')}",
                             result.get("rss_bytes_per_borrower"), "bytes", ""))  # fmt: skip
            if "recovery_s" in result:
                table.append(Row(f"restore {result.get('borrowers', 0):,} borrowers",
                                 result["recovery_s"], "s", "≤ 10"))  # fmt: skip
    return table


def shown(value: float | int | None) -> str:
    return "—" if value is None else f"{value:,}"


def console_table(doc: dict) -> str:
    table = rows(doc)
    width = max(len(row.name) for row in table)
    lines = [f"{'measurement':<{width}}  {'value':>12}  {'unit':<9} target"]
    lines += [f"{r.name:<{width}}  {shown(r.value):>12}  {r.unit:<9} {r.target}" for r in table]
    return "\n".join(lines)
