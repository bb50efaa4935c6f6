"""dead_letter.v1 records: valid against the schema, and the original message comes back."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from streams.core.deadletter import (
    MAX_DETAIL_CHARS,
    MAX_KEPT_KEY_BYTES,
    MAX_KEPT_VALUE_BYTES,
    dead_letter_key,
    dead_letter_record,
)
from streams.core.decoding import DECODERS, MAX_PAYLOAD_BYTES, Rejection, RejectReason

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "schemas" / "dead_letter.v1.json").read_text()
)
VALIDATOR = Draft7Validator(SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER)
TOPIC = "collections.call-attempts.v1"
RECEIVED_AT_MS = 1_795_915_812_250


def dead_letter_for(raw: bytes | None, key: bytes | None, kind: str = "call_attempt") -> Any:
    rejection = DECODERS[kind](raw, key, require_key=True)
    assert isinstance(rejection, Rejection)
    record = orjson.loads(
        dead_letter_record(
            raw=raw,
            key=key,
            topic=TOPIC,
            partition=3,
            offset=1_882_041,
            rejection=rejection,
            received_at_ms=RECEIVED_AT_MS,
        )
    )
    assert [error.message for error in VALIDATOR.iter_errors(record)] == []
    return record


def test_record_carries_source_reason_and_original_bytes() -> None:
    raw = b'{"event_id": "ca-1", "borrower_id": "b-000123", "channel": "fax"}'
    assert dead_letter_for(raw, b"b-000123") == {
        "schema": "dead_letter.v1",
        "reason": "missing_field",
        "detail": "call_attempt.attempted_at: required field is missing",
        "source_topic": TOPIC,
        "source_partition": 3,
        "source_offset": 1_882_041,
        "key": "b-000123",
        "key_encoding": "utf-8",
        "value_base64": base64.b64encode(raw).decode(),
        "value_size": len(raw),
        "value_truncated": False,
        "received_at": "2026-11-29T01:30:12.250Z",
    }


def test_binary_key_is_base64_and_tombstone_has_null_value() -> None:
    record = dead_letter_for(None, b"\xffb-000123", kind="repayment")
    assert record["reason"] == RejectReason.EMPTY_VALUE
    assert (record["key_encoding"], base64.b64decode(record["key"])) == ("base64", b"\xffb-000123")
    assert (record["value_base64"], record["value_size"]) == (None, 0)


def test_missing_key_is_null_with_null_encoding() -> None:
    record = dead_letter_for(b'{"borrower_id": "b-000123"}', None)
    assert (record["key"], record["key_encoding"]) == (None, None)


def test_oversized_value_is_cut_to_fit_a_kafka_message() -> None:
    raw = b"[" + b"1," * (MAX_PAYLOAD_BYTES // 2) + b"1]"
    record = dead_letter_for(raw, b"b-000123")
    assert record["reason"] == RejectReason.TOO_LARGE
    assert record["value_truncated"] is True
    assert record["value_size"] == len(raw)
    assert base64.b64decode(record["value_base64"]) == raw[:MAX_KEPT_VALUE_BYTES]
    assert len(orjson.dumps(record)) < 1024 * 1024


@pytest.mark.parametrize(
    ("record_change", "valid"),
    [({}, True), ({"key_encoding": None}, False), ({"value_base64": "not base64!"}, False)],
)
def test_schema_ties_key_encoding_to_key_and_checks_base64(
    record_change: dict[str, Any], valid: bool
) -> None:
    record = {**dead_letter_for(b"[]", b"b-000123"), **record_change}
    assert VALIDATOR.is_valid(record) is valid


@given(
    kind=st.sampled_from(sorted(DECODERS)),
    raw=st.none() | st.binary(max_size=200),
    key=st.none() | st.binary(max_size=20),
)
def test_any_rejected_message_round_trips(kind: str, raw: bytes | None, key: bytes | None) -> None:
    if not isinstance(DECODERS[kind](raw, key, require_key=True), Rejection):
        return
    record = dead_letter_for(raw, key, kind)
    original_value = None if raw is None else base64.b64decode(record["value_base64"])
    original_key = (
        None
        if record["key"] is None
        else record["key"].encode()
        if record["key_encoding"] == "utf-8"
        else base64.b64decode(record["key"])
    )
    assert (original_value, original_key) == (raw, key)


@pytest.mark.parametrize("key", [b"k" * 5_000_000, "界".encode() * 400_000])
def test_a_huge_key_and_detail_are_cut_so_the_dead_letter_fits(key: bytes) -> None:
    """The value is cut to 512 KiB; the key to 1 KiB (as base64 when cut inside a character)
    and the detail to 1,000 characters, so the dead letter and its own key fit 1 MiB."""
    rejection = Rejection(RejectReason.PROCESSING_ERROR, "x" * 100_000)
    raw = b"v" * MAX_PAYLOAD_BYTES
    letter = dead_letter_record(raw=raw, key=key, topic=TOPIC, partition=0, offset=0,
                                rejection=rejection, received_at_ms=RECEIVED_AT_MS)  # fmt: skip
    record = orjson.loads(letter)
    assert VALIDATOR.is_valid(record)
    assert len(record["detail"]) == MAX_DETAIL_CHARS
    kept = record["key"].encode() if record["key_encoding"] == "utf-8" else b""
    kept = kept or base64.b64decode(record["key"])
    assert kept == key[:MAX_KEPT_KEY_BYTES] == dead_letter_key(key)
    assert len(letter) + MAX_KEPT_KEY_BYTES < 800_000
