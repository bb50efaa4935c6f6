"""README's performance table is generated from a results.json, figures and derived rows alike
(checked against a fixed sample, never against live figures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.perf.readme_table import END, START, markdown_table, rewrite
from tests.perf.report import console_table, rows, shell_overhead_us

SAMPLE = {
    "parameters": {"events": 200_000, "borrowers": 20_000},
    "environment": {"python": "3.11.7", "cpus": 2, "kafka": "4.1.1",
                    "load_average_at_start": [0.8, 0.9, 1.0],
                    "load_average_at_end": [1.2, 1.0, 1.0]},
    "total_wall_s": 300.5,
    "measurements": {
        "decode": {"events_per_second": 200_000},
        "engine": {"apply_events_per_s": 100_000,
                   "apply_with_state_round_trip_events_per_s": 50_000,
                   "state_size": {"mean_bytes": 825.0}},
        "ceiling_bare_aiokafka": {"events_per_s": 250_000},
        "e2e_saturation_reachwatch": {"events_per_s": 20_000, "workers_cpu_us_per_event": 61.5},
        "peer_quix_streams": {"events_per_s": 40_000},
        "e2e_saturation_reachwatch_2_workers": {"events_per_s": 16_000},
        "e2e_saturation_reachwatch_exactly_once": {"error": "TimeoutError: drain"},
        "latency": {"send_to_alert_received": {"p50_ms": 8.5, "p99_ms": 21.0}},
        "memory_memory_100000": {"rss_bytes_per_borrower": 1300, "recovery_s": 12.5,
                                 "borrowers": 100_000},
    },
}  # fmt: skip


def test_shell_overhead_is_the_worker_time_less_decode_and_engine() -> None:
    # 50 µs an event in the worker, 5 decoding, 20 in the engine with its round trip
    assert shell_overhead_us(SAMPLE) == 25.0


def test_rows_derive_ratios_from_the_same_run_and_leave_missing_figures_empty() -> None:
    by_name = {row.name: row.value for row in rows(SAMPLE)}
    assert by_name["worker / Quix peer"] == 0.5
    assert by_name["worker / ceiling"] == 0.08
    assert by_name["two workers / one worker"] == 0.8
    assert by_name["shell share of the worker's time"] == 0.5
    assert by_name["decode + engine with round trip, one core"] == 40_000
    assert by_name["exactly-once"] is None  # that measurement failed
    assert by_name["exactly-once / at-least-once"] is None
    assert by_name["restore 100,000 borrowers"] == 12.5
    assert by_name["workers' CPU per event, one worker"] == 61.5
    assert by_name["workers' CPU per event, two workers"] is None


def test_markdown_table_shows_each_figure_with_its_target() -> None:
    table = markdown_table(SAMPLE)
    assert "200,000 events, 20,000 borrowers, 2 cores" in table
    assert "1-minute load 0.8 → 1.2, 300.5 s in all" in table
    assert "| Quix Streams peer (one rule, RocksDB + changelog) | 40,000 events/s |  |" in table
    assert "| worker / Quix peer | 0.5 | ≥ 1.0 |" in table
    assert "| exactly-once / at-least-once | — | ≥ 0.7 |" in table
    assert "| shell overhead: worker µs/event − decode − engine | 25.0 µs/event |  |" in table
    assert "exactly-once" in console_table(SAMPLE)


def test_rewrite_replaces_only_the_text_between_the_markers() -> None:
    readme = f"intro\n{START}\nold table\n{END}\nafter\n"
    assert rewrite(readme, "new") == f"intro\n{START}\nnew\n{END}\nafter\n"
    with pytest.raises(ValueError, match="markers"):
        rewrite("no markers here", "new")


def test_the_readme_has_the_markers_the_generator_needs() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert rewrite(readme, "table").count(START) == 1
