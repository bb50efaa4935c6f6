"""The files in schemas/ are valid draft-07, their examples hold, and they match the code."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from streams.core.config import KafkaConfig
from streams.core.decoding import (
    AMOUNT_PATTERN,
    CURRENCY_PATTERN,
    DECODERS,
    EVENT_TIME_PATTERN,
    TIMESTAMP_PATTERN,
    Rejection,
    RejectReason,
)
from streams.core.engine.alert import Alert
from streams.core.events import CHANNELS, OUTCOME_CLASS, REPAYMENT_TYPES

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
KINDS = ("call_attempt", "repayment", "alert", "dead_letter")
TOPICS = {
    "call_attempt": "collections.call-attempts.v1",
    "repayment": "collections.repayments.v1",
    "alert": "collections.unreachability-alerts.v1",
    "dead_letter": "collections.dead-letters.v1",
}


def load_schema(kind: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{kind}.v1.json").read_text())


def validator(kind: str) -> Draft7Validator:
    return Draft7Validator(load_schema(kind), format_checker=Draft7Validator.FORMAT_CHECKER)


def schema_errors(kind: str, record: Any) -> list[str]:
    return [error.message for error in validator(kind).iter_errors(record)]


EXAMPLES = [
    pytest.param(kind, example, id=f"{kind}-{n}")
    for kind in KINDS
    for n, example in enumerate(load_schema(kind)["examples"])
]


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_draft7_and_documented(kind: str) -> None:
    schema = load_schema(kind)
    Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["$id"].endswith(f"{kind}.v1")
    assert schema["title"] == f"{kind}.v1"
    assert schema["additionalProperties"] is True
    assert len(schema["examples"]) >= 3
    undocumented = [
        name for name, spec in schema["properties"].items() if not spec.get("description")
    ]
    assert undocumented == []


@pytest.mark.parametrize(("kind", "example"), EXAMPLES)
def test_every_example_validates(kind: str, example: dict[str, Any]) -> None:
    assert schema_errors(kind, example) == []


@pytest.mark.parametrize(("kind", "example"), [p for p in EXAMPLES if p.values[0] in DECODERS])
def test_every_input_example_decodes(kind: str, example: dict[str, Any]) -> None:
    event = DECODERS[kind](orjson.dumps(example), example["borrower_id"].encode(), require_key=True)
    assert not isinstance(event, Rejection), event
    assert (event.event_id, event.borrower_id) == (example["event_id"], example["borrower_id"])


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("call_attempt", "channel", "wechat"),
        ("call_attempt", "attempted_at", "2026-11-29T09:30:00"),
        ("repayment", "amount", 12.5),
        ("repayment", "days_past_due", -1),
        ("alert", "state", "reopened"),
        ("alert", "alert_id", "not-a-hash"),
        ("dead_letter", "reason", "no_reason"),
    ],
)
def test_schemas_reject_what_they_should(kind: str, field: str, value: Any) -> None:
    broken = {**load_schema(kind)["examples"][0], field: value}
    assert schema_errors(kind, broken) != []


def test_patterns_and_enums_are_the_decoders() -> None:
    call_attempt, repayment = load_schema("call_attempt"), load_schema("repayment")
    event_times = [
        call_attempt["properties"]["attempted_at"],
        repayment["properties"]["occurred_at"],
    ]
    output_times = [
        load_schema("alert")["definitions"]["timestamp"],
        load_schema("dead_letter")["properties"]["received_at"],
    ]
    assert {stamp["pattern"] for stamp in event_times} == {EVENT_TIME_PATTERN}
    assert {stamp["pattern"] for stamp in output_times} == {TIMESTAMP_PATTERN}
    assert {stamp["format"] for stamp in event_times + output_times} == {"date-time"}
    assert repayment["properties"]["amount"]["pattern"] == AMOUNT_PATTERN
    assert repayment["properties"]["currency"]["pattern"] == CURRENCY_PATTERN
    assert call_attempt["properties"]["channel"]["enum"] == list(CHANNELS)
    assert call_attempt["properties"]["outcome"]["enum"] == list(OUTCOME_CLASS)
    assert repayment["properties"]["type"]["enum"] == list(REPAYMENT_TYPES)
    reasons = load_schema("dead_letter")["properties"]["reason"]["enum"]
    assert reasons == [reason.value for reason in RejectReason]


@given(year=st.integers(1, 9999), month=st.integers(1, 12), day=st.integers(1, 31))
def test_timestamp_pattern_knows_the_calendar(year: int, month: int, day: int) -> None:
    try:
        date(year, month, day)
    except ValueError:
        real = False
    else:
        real = True
    stamp = f"{year:04d}-{month:02d}-{day:02d}T12:00:00Z"
    assert bool(re.search(TIMESTAMP_PATTERN, stamp)) is real


def make_alert(**changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "borrower_id": "b-000123",
        "rule": "consecutive_unanswered",
        "category": "unreachability",
        "state": "raised",
        "severity": "warning",
        "reason": "5 attempts in a row without contact (threshold 5).",
        "episode_key": "ca-20261129-0000418",
        "event_time_ms": 1_795_931_400_000,
        "config_version": "cfg-5f1c9a2e",
        "recommended_actions": ("switch_channel",),
        "evidence": {
            "consecutive_unanswered": 5,
            "window_start": "2026-11-29T01:30:12.000Z",
            "window_end": "2026-11-29T08:30:00.000Z",
            "event_ids": ["ca-20261129-0000418", "ca-20261129-0000419"],
        },
        "loan_ids": ("L-2026-0031877",),
        "days_past_due": 4,
    }
    return Alert(**{**fields, **changes})


@pytest.mark.parametrize(
    "alert",
    [
        make_alert(),
        make_alert(evidence={}, loan_ids=(), days_past_due=None, recommended_actions=()),
        make_alert(
            rule="contact_policy",
            category="compliance",
            severity="critical",
            state="escalated",
            recommended_actions=("pause_contact", "escalate_collection"),
        ),
    ],
    ids=["raised", "bare", "compliance"],
)
def test_real_alert_records_validate(alert: Alert) -> None:
    record = orjson.loads(alert.encode(emitted_at_ms=1_795_931_400_215))
    assert schema_errors("alert", record) == []
    assert set(load_schema("alert")["required"]) == set(record)


def test_alert_schema_catches_a_broken_record() -> None:
    record = make_alert(recommended_actions=("call_the_police",)).to_record(1_795_931_400_215)
    assert schema_errors("alert", record) != []


def test_asyncapi_documents_every_topic_with_its_payload() -> None:
    spec = yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text())
    assert spec["asyncapi"].startswith("3.")
    channels = spec["channels"]
    defaults = KafkaConfig()
    kind_of = {address: kind for kind, address in TOPICS.items()}
    kind_of[defaults.shadow_alert_topic] = "alert"  # challengers' alerts: same payload
    assert sorted(channel["address"] for channel in channels.values()) == sorted(kind_of)
    assert {defaults.call_topic, defaults.repayment_topic, defaults.alert_topic,
            defaults.dead_letter_topic} == set(TOPICS.values())  # fmt: skip
    messages = spec["components"]["messages"]
    for channel in channels.values():
        (ref,) = (message["$ref"] for message in channel["messages"].values())
        message = messages[ref.rsplit("/", 1)[-1]]
        payload_file = message["payload"]["schema"]["$ref"]
        kind = payload_file.removeprefix("./").removesuffix(".v1.json")
        assert kind_of[channel["address"]] == kind
        assert message["name"] == f"{kind}.v1"
        assert "key" in message["bindings"]["kafka"]
    operation_channels = {
        op["channel"]["$ref"].rsplit("/", 1)[-1] for op in spec["operations"].values()
    }
    assert operation_channels == set(channels)


def test_readme_lists_every_reason_code() -> None:
    readme = (SCHEMAS / "README.md").read_text()
    listed = set(re.findall(r"^\| `([a-z_0-9]+)` \|", readme, flags=re.MULTILINE))
    assert listed == {reason.value for reason in RejectReason}
