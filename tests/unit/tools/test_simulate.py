"""The simulator: reproducible bytes, an honoured profile mix and fault fractions, and a
collection strategy that behaves like the playbook it claims to follow."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.core.events import OUTCOME_CLASS, OutcomeClass
from streams.tools.simulate import Simulation, parse_start
from streams.tools.simulation import output
from streams.tools.simulation.output import Faults, Record, produce_to_kafka
from streams.tools.simulation.profiles import DEFAULT_MIX, PROFILES, parse_mix

NO_FAULTS = Faults(0.0, 0.0, 0.0, 0.0)
START = parse_start("2026-11-01T00:00:00+08:00")


def simulate_cli(tmp_path: Path, name: str, *args: str) -> tuple[bytes, bytes]:
    events, labels = tmp_path / f"{name}.jsonl", tmp_path / f"{name}-labels.jsonl"
    result = CliRunner().invoke(
        main,
        ["simulate", "--borrowers", "60", "--days", "20", "--out", str(events),
         "--labels", str(labels), "--quiet", *args],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return events.read_bytes(), labels.read_bytes()


def parse(lines: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in lines.splitlines()]


def event_time(record: dict[str, Any]) -> datetime:
    event = record["event"]
    return datetime.fromisoformat(event.get("attempted_at") or event["occurred_at"])


@pytest.fixture(scope="module")
def clean_run() -> tuple[Simulation, list[dict[str, Any]]]:
    """500 borrowers for 30 days without delivery faults: the strategy's raw behaviour."""
    simulation = Simulation(borrowers=500, days=30, seed=11, start=START, faults=NO_FAULTS)
    return simulation, [orjson.loads(record.to_line()) for record in simulation.records()]


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    assert simulate_cli(tmp_path, "a", "--seed", "5") == simulate_cli(tmp_path, "b", "--seed", "5")


def test_different_seeds_differ(tmp_path: Path) -> None:
    events_5, labels_5 = simulate_cli(tmp_path, "a", "--seed", "5")
    events_6, labels_6 = simulate_cli(tmp_path, "b", "--seed", "6")
    assert events_5 != events_6
    assert labels_5 != labels_6


def test_output_to_stdout_matches_the_file(tmp_path: Path) -> None:
    events, _ = simulate_cli(tmp_path, "file", "--seed", "3")
    result = CliRunner().invoke(
        main,
        ["simulate", "--borrowers", "60", "--days", "20", "--seed", "3", "--out", "-", "--quiet"],
    )
    assert result.exit_code == 0
    assert result.stdout_bytes == events


def test_summary_line_on_stderr(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["simulate", "--borrowers", "20", "--days", "5", "--out", str(tmp_path / "e.jsonl")]
    )
    assert result.exit_code == 0
    assert re.fullmatch(
        r"simulated 20 borrowers over 5 days \(seed 1\): \d+ events, \d+ late, \d+ out of order, "
        r"\d+ duplicates, \d+ malformed\n",
        result.stderr,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--out FILE, --kafka BOOTSTRAP"),
        (["--out", "-", "--profile-mix", "ghost=1"], "PROFILE=WEIGHT"),
        (["--out", "-", "--start", "soon"], "not an RFC 3339 time"),
        (["--out", "-", "--late-fraction", "0.6", "--duplicate-fraction", "0.6"], "exceed 1"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["simulate", "--borrowers", "5", "--days", "2", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_labels_follow_the_profile_mix_exactly_and_name_their_reason(
    clean_run: tuple[Simulation, list[dict[str, Any]]],
) -> None:
    simulation, _ = clean_run
    labels = list(simulation.labels())
    counts = Counter(label["profile"] for label in labels)
    for name, weight in DEFAULT_MIX.items():
        assert abs(counts[name] - 500 * weight) <= 1
    for label in labels:
        profile = PROFILES[label["profile"]]
        assert label["unreachable"] is profile.becomes_unreachable
        assert label["why"] == profile.why
        if label["unreachable"]:
            onset = datetime.fromisoformat(label["onset"])
            assert START <= onset < datetime.fromisoformat("2026-12-01T00:00:00+08:00")
        else:
            assert label["onset"] is None


def test_profile_mix_option(tmp_path: Path) -> None:
    _, labels = simulate_cli(tmp_path, "mix", "--profile-mix", "lost_contact=1,absconder=1")
    assert Counter(label["profile"] for label in parse(labels)) == {
        "lost_contact": 30,
        "absconder": 30,
    }


def test_parse_mix_rejects_negative_and_unknown() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        parse_mix("forgetful=-1")
    with pytest.raises(ValueError, match="not a number"):
        parse_mix("forgetful=lots")


def test_clean_stream_is_time_ordered_with_unique_event_ids(
    clean_run: tuple[Simulation, list[dict[str, Any]]],
) -> None:
    _, records = clean_run
    times = [event_time(record) for record in records]
    assert times == sorted(times)
    ids = [record["event"]["event_id"] for record in records]
    assert len(ids) == len(set(ids))
    assert Counter(record["kind"] for record in records).keys() == {"call_attempt", "repayment"}


def test_events_carry_valid_enums_offsets_and_decimal_amounts(
    clean_run: tuple[Simulation, list[dict[str, Any]]],
) -> None:
    _, records = clean_run
    for record in records:
        event = record["event"]
        if record["kind"] == "call_attempt":
            assert event["outcome"] in OUTCOME_CLASS
            assert event["attempted_at"].endswith("+08:00")
        else:
            assert event["type"] in ("due", "payment", "missed")
            assert re.fullmatch(r"\d+\.\d\d", event["amount"])
            assert event["days_past_due"] >= 0


def test_attempts_keep_to_working_hours_but_for_a_few_violations(
    clean_run: tuple[Simulation, list[dict[str, Any]]],
) -> None:
    _, records = clean_run
    hours = [event_time(r).hour for r in records if r["kind"] == "call_attempt"]
    quiet = sum(1 for hour in hours if hour < 8 or hour >= 22)
    assert 0 < quiet < 0.01 * len(hours)


def test_cadence_rises_with_days_past_due(
    clean_run: tuple[Simulation, list[dict[str, Any]]],
) -> None:
    _, records = clean_run
    per_campaign_day: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for record in records:
        event = record["event"]
        if record["kind"] == "call_attempt" and event["contact_point"] == "primary":
            day = event["attempted_at"][:10]
            per_campaign_day[event["campaign"]][event["borrower_id"], day] += 1

    def mean(campaign: str) -> float:
        counts = per_campaign_day[campaign].values()
        return sum(counts) / len(counts)

    assert mean("dpd1-3") < mean("dpd4-14") < mean("dpd15-30")


def test_emergency_contacts_only_after_the_third_party_gate_opens(
    clean_run: tuple[Simulation, list[dict[str, Any]]],
) -> None:
    _, records = clean_run
    failed_in_a_row: Counter[str] = Counter()
    own_number_invalid: set[str] = set()
    emergency = 0
    for record in records:
        event = record["event"]
        if record["kind"] != "call_attempt":
            continue
        borrower, outcome_class = event["borrower_id"], OUTCOME_CLASS[event["outcome"]]
        if event["contact_point"] == "emergency_contact":
            emergency += 1
            assert failed_in_a_row[borrower] >= 3 or borrower in own_number_invalid
        elif outcome_class is OutcomeClass.CONTACT:
            failed_in_a_row[borrower] = 0
        else:
            failed_in_a_row[borrower] += 1
            if outcome_class is OutcomeClass.INVALID and event["channel"] in ("voice", "sms"):
                own_number_invalid.add(borrower)
    assert emergency > 0


def test_unreachable_profiles_change_behaviour_at_onset(
    clean_run: tuple[Simulation, list[dict[str, Any]]],
) -> None:
    simulation, records = clean_run
    labels = {label["borrower_id"]: label for label in simulation.labels()}
    classes: dict[tuple[str, bool], Counter[OutcomeClass]] = defaultdict(Counter)
    for record in records:
        event = record["event"]
        label = labels[event["borrower_id"]]
        if record["kind"] == "call_attempt" and event["contact_point"] == "primary":
            after = label["onset"] is not None and event_time(record) >= datetime.fromisoformat(
                label["onset"]
            )
            classes[label["profile"], after][OUTCOME_CLASS[event["outcome"]]] += 1

    def share(profile: str, after: bool, outcome_class: OutcomeClass) -> float:
        counts = classes[profile, after]
        return counts[outcome_class] / sum(counts.values())

    assert share("lost_contact", True, OutcomeClass.INVALID) > 0.3
    assert share("absconder", True, OutcomeClass.UNREACHABLE) > 0.2
    assert share("absconder", True, OutcomeClass.CONTACT) == 0
    assert share("active_avoider", True, OutcomeClass.AVOIDANCE) > 0.2
    assert share("active_avoider", False, OutcomeClass.AVOIDANCE) == 0
    assert share("reliable_payer", False, OutcomeClass.CONTACT) > 0.1
    assert share("lost_contact", True, OutcomeClass.CONTACT) == 0


def test_reliable_payers_rarely_need_collections(
    clean_run: tuple[Simulation, list[dict[str, Any]]],
) -> None:
    simulation, records = clean_run
    profile_of = {b.borrower_id: b.profile.name for b in simulation.borrowers}
    collected = Counter(
        profile_of[r["event"]["borrower_id"]]
        for r in records
        if r["kind"] == "call_attempt" and r["event"]["campaign"] != "reminder"
    )
    per_borrower = {
        name: collected[name] / sum(1 for p in profile_of.values() if p == name)
        for name in DEFAULT_MIX
    }
    assert per_borrower["reliable_payer"] < 1 < per_borrower["forgetful"]
    assert per_borrower["forgetful"] < per_borrower["lost_contact"]


def test_fault_fractions_are_honoured() -> None:
    faults = Faults(late=0.02, out_of_order=0.05, duplicate=0.03, malformed=0.01)
    simulation = Simulation(borrowers=400, days=30, seed=2, start=START, faults=faults)
    records = list(simulation.records())
    events = simulation.queue.events
    assert events > 10_000
    for fault, fraction in (("late", 0.02), ("out_of_order", 0.05), ("duplicate", 0.03),
                            ("malformed", 0.01)):  # fmt: skip
        expected = events * fraction
        assert abs(simulation.queue.injected[fault] - expected) < 4 * expected**0.5 + 1

    malformed = [r for r in records if r.malformed]
    assert len(malformed) == simulation.queue.injected["malformed"]
    well_formed = [orjson.loads(r.value) for r in records if not r.malformed]
    ids = Counter(event["event_id"] for event in well_formed)
    assert sum(n - 1 for n in ids.values()) == simulation.queue.injected["duplicate"]
    assert len(records) == events + simulation.queue.injected["duplicate"] + len(malformed)


def test_malformed_records_keep_their_raw_text(tmp_path: Path) -> None:
    events, _ = simulate_cli(tmp_path, "bad", "--malformed-fraction", "0.2")
    malformed = [r for r in parse(events) if isinstance(r["event"], str)]
    assert malformed
    for record in malformed:
        try:
            decoded = orjson.loads(record["event"])
        except orjson.JSONDecodeError:
            continue  # truncated
        assert isinstance(decoded, dict)
        broken = (
            decoded.get("outcome") == "hung_up_twice"
            or decoded.get("type") == "refund"
            or isinstance(decoded.get("amount"), float)
            or decoded.get("attempted_at") == "yesterday 9am"
            or not set(output.REQUIRED_FIELDS[record["kind"]]) <= decoded.keys()
        )
        assert broken, record


def test_delayed_records_arrive_after_later_events() -> None:
    faults = Faults(late=0.05, out_of_order=0.0, duplicate=0.0, malformed=0.0)
    simulation = Simulation(borrowers=200, days=10, seed=4, start=START, faults=faults)
    newest, behind = None, 0
    for record in simulation.records():
        at = event_time({"event": orjson.loads(record.value)})
        if newest is not None and at < newest:
            behind += 1
        newest = at if newest is None else max(newest, at)
    assert 0.5 * simulation.queue.injected["late"] <= behind <= simulation.queue.injected["late"]


def test_record_line_equals_the_json_document() -> None:
    valid = Record("call_attempt", "b1", orjson.dumps({"event_id": "e1", "borrower_id": "b1"}))
    broken = Record("repayment", "b1", b'{"event_id": "e1", "borr', malformed=True)
    for record in (valid, broken):
        event = orjson.loads(record.value) if not record.malformed else record.value.decode()
        assert record.to_line() == orjson.dumps({"kind": record.kind, "event": event}) + b"\n"


def test_clock_formats_like_datetime(clean_run: tuple[Simulation, list[dict[str, Any]]]) -> None:
    clock = clean_run[0].clock
    for at_ms in (clock.origin_ms, clock.origin_ms + 86_399_000, clock.end_ms - 1000):
        assert datetime.fromisoformat(clock.format(at_ms)).timestamp() * 1000 == at_ms


class FakeProducer:
    sent: ClassVar[list[tuple[str, bytes, bytes]]] = []

    def __init__(self, **config: Any) -> None:
        self.config = config

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def flush(self) -> None: ...

    def close(self) -> None: ...


def test_produce_to_kafka_keys_by_borrower_and_routes_by_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kafka

    monkeypatch.setattr(kafka, "KafkaProducer", FakeProducer)
    FakeProducer.sent = []
    records = [
        Record("call_attempt", "b1", b'{"a":1}'),
        Record("repayment", "b2", b'{"b":2}'),
        Record("call_attempt", "b3", b"{trunc", malformed=True),
    ]
    sent = produce_to_kafka(
        records, "kafka://127.0.0.1:1", rate=None, call_topic="c", repayment_topic="r"
    )
    assert sent == 3
    assert FakeProducer.sent == [
        ("c", b"b1", b'{"a":1}'),
        ("r", b"b2", b'{"b":2}'),
        ("c", b"b3", b"{trunc"),
    ]
