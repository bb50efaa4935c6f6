"""Replay: the worker's decoder and engine over an event file, deterministic and consistent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.core.config import DAY_MS, RULE_NAMES, EngineConfig
from streams.core.decoding import DECODERS
from streams.core.engine import apply
from streams.tools.replay import EventFileError, ReplayCounts, decode_record, replay_records
from streams.tools.simulate import Simulation, parse_start
from streams.tools.simulation.output import Faults

CONFIG = EngineConfig()


def attempt(n: int, borrower: str, at: str, outcome: str = "no_answer") -> dict[str, Any]:
    return {
        "event_id": f"{borrower}-e{n}",
        "borrower_id": borrower,
        "attempted_at": at,
        "channel": "voice",
        "outcome": outcome,
    }


def line(kind: str, event: dict[str, Any] | str) -> bytes:
    return orjson.dumps({"kind": kind, "event": event})


def hourly_attempts(borrower: str, outcomes: list[str], day: str = "2026-11-02") -> list[bytes]:
    """Voice attempts at 09:00, 10:00, … local time, one per outcome."""
    return [
        line("call_attempt", attempt(n, borrower, f"{day}T{9 + n:02d}:00:00+08:00", outcome))
        for n, outcome in enumerate(outcomes)
    ]


def test_five_unanswered_raise_and_a_contact_resolves() -> None:
    lines = hourly_attempts("b1", ["no_answer"] * 5 + ["answered"])
    alerts = list(replay_records(lines, CONFIG))
    assert [(a.rule, a.state, a.severity) for a in alerts] == [
        ("consecutive_unanswered", "raised", "warning"),
        ("consecutive_unanswered", "resolved", "warning"),
    ]
    assert (
        alerts[0].event_time_ms
        == datetime.fromisoformat("2026-11-02T13:00:00+08:00").timestamp() * 1000
    )


def test_counts_invalid_late_and_duplicate_records() -> None:
    lines = hourly_attempts("b1", ["no_answer"] * 3)
    lines.append(lines[1])  # redelivered
    lines.append(line("call_attempt", attempt(9, "b1", "2026-11-02T06:00:00+08:00")))  # 5 h late
    lines.append(line("call_attempt", '{"event_id": "x", "borr'))  # truncated
    lines.append(line("repayment", {"event_id": "r1", "amount": 12.5}))  # missing fields
    lines.append(b"\n")  # blank lines are skipped
    counts = ReplayCounts()
    assert list(replay_records(lines, CONFIG, counts)) == []
    assert (counts.events, counts.invalid, counts.late, counts.duplicates) == (7, 2, 1, 1)
    assert sum(counts.invalid_reasons.values()) == 2
    assert counts.summary() == "replayed 7 events: 2 invalid, 1 late, 1 duplicates; 0 alerts"


def test_a_line_that_is_no_record_names_its_line_number() -> None:
    with pytest.raises(EventFileError, match="line 2"):
        list(replay_records([*hourly_attempts("b1", ["answered"]), b'{"kind": "refund"}'], CONFIG))


def test_idle_borrowers_without_open_episodes_are_evicted() -> None:
    lines = hourly_attempts("b1", ["answered"]) + hourly_attempts("b2", ["answered"], "2026-11-20")
    lines += hourly_attempts("b3", ["answered"], "2026-11-22")
    counts = ReplayCounts()
    list(replay_records(lines, CONFIG, counts))
    assert counts.evicted == 1


def small_population() -> Simulation:
    faults = Faults(late=0.01, out_of_order=0.03, duplicate=0.02, malformed=0.01)
    return Simulation(
        borrowers=150, days=20, seed=9, start=parse_start("2026-11-01"), faults=faults
    )


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "events.jsonl"
    path.write_bytes(b"".join(record.to_line() for record in small_population().records()))
    return path


def test_file_events_decode_to_the_bytes_the_worker_reads(simulated: Path) -> None:
    """Re-serialising a record's event gives back the Kafka value the simulator produces."""
    simulation = small_population()
    for record, file_line in zip(
        simulation.records(), simulated.read_bytes().splitlines(), strict=True
    ):
        assert decode_record(file_line) == DECODERS[record.kind](record.value)


def test_replay_equals_applying_the_decoded_stream_per_borrower(simulated: Path) -> None:
    states: dict[str, Any] = {}
    expected = []
    for file_line in simulated.read_bytes().splitlines():
        event = decode_record(file_line)
        if not hasattr(event, "borrower_id"):
            continue
        outcome = apply(states.get(event.borrower_id), event, CONFIG)
        states[event.borrower_id] = outcome.state
        expected += outcome.alerts
    with simulated.open("rb") as events:
        alerts = list(replay_records(events, CONFIG))
    assert alerts  # the population produces alerts at all
    assert [a.to_record(0) for a in alerts] == [a.to_record(0) for a in expected]


def test_cli_is_deterministic_with_event_time(simulated: Path, tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        result = CliRunner().invoke(main, ["replay", str(simulated), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert result.stderr.startswith("replayed ")
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    for alert in map(orjson.loads, outputs[0].splitlines()):
        assert alert["emitted_at"] == alert["event_time"]


def test_cli_wall_clock_emitted_at(simulated: Path) -> None:
    result = CliRunner().invoke(main, ["replay", str(simulated), "--emitted-at", "wall"])
    assert result.exit_code == 0, result.output
    first = orjson.loads(result.stdout.splitlines()[0])
    emitted = datetime.fromisoformat(first["emitted_at"])
    assert (
        emitted.timestamp() * 1000 - datetime.fromisoformat(first["event_time"]).timestamp() * 1000
        > DAY_MS
    )


def test_cli_uses_the_given_config(simulated: Path, tmp_path: Path) -> None:
    config = tmp_path / "quiet.toml"
    config.write_text("\n".join(f"[rules.{rule}]\nenabled = false" for rule in RULE_NAMES))
    result = CliRunner().invoke(main, ["replay", str(simulated), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "; 0 alerts" in result.stderr


def test_cli_reports_a_broken_file_and_config(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"not json\n")
    result = CliRunner().invoke(main, ["replay", str(broken)])
    assert result.exit_code == 1
    assert "line 1" in result.output
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text('[engine]\ngrace = "soon"\n')
    result = CliRunner().invoke(main, ["replay", str(broken), "--config", str(bad_config)])
    assert result.exit_code == 2  # as the worker: a bad config stops before any work
    assert "engine.grace" in result.output
    assert str(bad_config) in result.output


CHALLENGER_TOML = """\
[kafka]
broker = "kafka://elsewhere:9092"  # ignored in a challenger
[rules.consecutive_unanswered]
levels = [{ at = 3, severity = "warning" }, { at = 6, severity = "critical" }]
"""


def test_cli_shadow_out_equals_replaying_with_the_challenger_as_config(
    simulated: Path, tmp_path: Path
) -> None:
    """Challengers do not change the champion's alerts, and their own alerts are exactly what
    the challenger file alone would give."""
    challenger = tmp_path / "strict.toml"
    challenger.write_text(CHALLENGER_TOML)
    out, shadow, alone, plain = (
        tmp_path / f"{n}.jsonl" for n in ("out", "shadow", "alone", "plain")
    )
    runs = [
        ["--out", str(out), "--challenger", str(challenger), "--shadow-out", str(shadow)],
        ["--out", str(alone), "--config", str(challenger)],
        ["--out", str(plain)],
    ]
    results = [CliRunner().invoke(main, ["replay", str(simulated), *args]) for args in runs]
    assert [r.exit_code for r in results] == [0, 0, 0], [r.output for r in results]
    assert out.read_bytes() == plain.read_bytes()
    assert shadow.read_bytes() == alone.read_bytes()
    assert shadow.read_bytes() != out.read_bytes()
    versions = {orjson.loads(a)["config_version"] for a in shadow.read_bytes().splitlines()}
    assert len(versions) == 1
    (version,) = versions
    assert f"challenger strict ({version}): replayed " in results[0].stderr


def test_cli_refuses_an_invalid_challenger_naming_every_problem(
    simulated: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[rules.low_contact_rate]\nwindow = "soon"\nmax_contact_rate = 2\n')
    result = CliRunner().invoke(main, ["replay", str(simulated), "--challenger", str(bad)])
    assert result.exit_code == 2
    assert "rules.low_contact_rate.window" in result.stderr
    assert "rules.low_contact_rate.max_contact_rate" in result.stderr
