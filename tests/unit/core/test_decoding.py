"""decode_call_attempt / decode_repayment: values, defaults, reason codes, never raising."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core import decoding
from streams.core.decoding import (
    DECODERS,
    MAX_PAYLOAD_BYTES,
    Rejection,
    RejectReason,
    decode_call_attempt,
    decode_repayment,
)
from streams.core.events import CallAttempt, Repayment

ATTEMPT: dict[str, Any] = {
    "event_id": "ca-20261129-0000418",
    "borrower_id": "b-000123",
    "attempted_at": "2026-11-29T09:30:12.250+08:00",
    "channel": "voice",
    "outcome": "no_answer",
}
REPAYMENT: dict[str, Any] = {
    "event_id": "rp-20261126-000044",
    "borrower_id": "b-000123",
    "loan_id": "L-2026-0031877",
    "occurred_at": "2026-11-25T16:00:00Z",
    "type": "missed",
    "amount": "1200.00",
    "days_past_due": 1,
}
KEY = b"b-000123"


def payload(base: dict[str, Any], **changes: Any) -> bytes:
    """`base` with fields replaced; a change to `...` removes the field."""
    doc = {**base, **changes}
    return orjson.dumps({name: value for name, value in doc.items() if value is not ...})


def utc_ms(iso: str) -> int:
    """Epoch ms computed independently of the decoder (whole ms only, so float-safe)."""
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


def test_call_attempt_decodes_with_defaults() -> None:
    assert decode_call_attempt(payload(ATTEMPT)) == CallAttempt(
        event_id="ca-20261129-0000418",
        borrower_id="b-000123",
        at_ms=utc_ms("2026-11-29T01:30:12.250+00:00"),
        channel="voice",
        outcome="no_answer",
        contact_point="primary",
        loan_id=None,
        borrower_tz=None,
    )


def test_call_attempt_optional_fields_are_kept_and_null_means_absent() -> None:
    full = payload(
        ATTEMPT,
        contact_point="emergency_contact",
        loan_id="L-2026-0031877",
        borrower_tz="Asia/Urumqi",
        duration_s=41.5,
        agent_id="agt-0233",
        campaign=None,
    )
    attempt = decode_call_attempt(full)
    assert isinstance(attempt, CallAttempt)
    assert (attempt.contact_point, attempt.loan_id, attempt.borrower_tz) == (
        "emergency_contact",
        "L-2026-0031877",
        "Asia/Urumqi",
    )
    assert attempt.is_third_party
    nulls = decode_call_attempt(payload(ATTEMPT, contact_point=None, loan_id=None))
    assert isinstance(nulls, CallAttempt)
    assert (nulls.contact_point, nulls.loan_id) == ("primary", None)


def test_repayment_decodes_with_default_currency_and_integral_float_dpd() -> None:
    assert decode_repayment(payload(REPAYMENT, days_past_due=3.0)) == Repayment(
        event_id="rp-20261126-000044",
        borrower_id="b-000123",
        loan_id="L-2026-0031877",
        at_ms=utc_ms("2026-11-25T16:00:00+00:00"),
        type="missed",
        amount="1200.00",
        days_past_due=3,
        currency="CNY",
    )
    usd = decode_repayment(payload(REPAYMENT, currency="USD", amount="0"))
    assert isinstance(usd, Repayment)
    assert (usd.currency, usd.amount) == ("USD", "0")


def test_unknown_fields_are_accepted_and_ignored() -> None:
    extra = payload(ATTEMPT, dialer_session="ds-88213", nested={"a": [1, 2.5, None]}, tags=[])
    assert decode_call_attempt(extra) == decode_call_attempt(payload(ATTEMPT))
    assert isinstance(decode_repayment(payload(REPAYMENT, installment_no=7)), Repayment)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-29T09:30:12.250+08:00", "2026-11-29T01:30:12.250+00:00"),
        ("2026-11-29T01:30:12.25Z", "2026-11-29T01:30:12.250+00:00"),
        ("2026-11-29t01:30:12.2509999z", "2026-11-29T01:30:12.250+00:00"),
        ("2026-11-28T20:30:12-05:00", "2026-11-29T01:30:12+00:00"),
        ("2026-11-29T01:30:12-00:00", "2026-11-29T01:30:12+00:00"),
        ("2028-02-29T00:00:00+14:00", "2028-02-28T10:00:00+00:00"),
        ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00+00:00"),
        ("2000-01-01T00:00:00.999+08:00", "1999-12-31T16:00:00.999+00:00"),
        ("2099-12-31T23:59:59-23:59", "2100-01-01T23:58:59+00:00"),
    ],
)
def test_timestamps_become_utc_epoch_ms(stamp: str, expected: str) -> None:
    attempt = decode_call_attempt(payload(ATTEMPT, attempted_at=stamp))
    assert isinstance(attempt, CallAttempt)
    assert attempt.at_ms == utc_ms(expected)


@pytest.mark.parametrize(
    "stamp",
    [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+23:59",
        "0000-06-01T00:00:00Z",
        "1999-12-31T23:59:59.999-23:59",
        "2100-01-01T00:00:00Z",
    ],
)
def test_times_outside_the_event_years_are_rejected(stamp: str) -> None:
    """Each of these once decoded and then stopped the worker in the engine's time arithmetic."""
    for kind, doc, name in (("call_attempt", ATTEMPT, "attempted_at"),
                            ("repayment", REPAYMENT, "occurred_at")):  # fmt: skip
        rejection = DECODERS[kind](payload(doc, **{name: stamp}))
        assert isinstance(rejection, Rejection)
        assert rejection.reason is RejectReason.TIMESTAMP_OUT_OF_RANGE
        assert name in rejection.detail


def test_event_years_are_inclusive() -> None:
    for stamp in ("2000-01-01T00:00:00Z", "2099-12-31T23:59:59.999999999+14:00"):
        assert isinstance(decode_call_attempt(payload(ATTEMPT, attempted_at=stamp)), CallAttempt)


def test_event_times_beyond_the_callers_clock_plus_skew_are_rejected() -> None:
    at_ms = utc_ms("2026-11-29T01:30:12.250+00:00")
    value = payload(ATTEMPT)
    assert isinstance(decode_call_attempt(value, latest_ms=at_ms), CallAttempt)
    rejection = decode_call_attempt(value, latest_ms=at_ms - 1)
    assert isinstance(rejection, Rejection)
    assert rejection.reason is RejectReason.FUTURE_EVENT_TIME
    assert "attempted_at" in rejection.detail
    late = decode_repayment(payload(REPAYMENT), latest_ms=utc_ms("2026-11-25T15:00:00+00:00"))
    assert isinstance(late, Rejection)
    assert late.reason is RejectReason.FUTURE_EVENT_TIME


BOUNDED_TEXT = [
    ("call_attempt", ATTEMPT, "event_id", decoding.MAX_ID_CHARS),
    ("call_attempt", ATTEMPT, "borrower_id", decoding.MAX_ID_CHARS),
    ("call_attempt", ATTEMPT, "loan_id", decoding.MAX_ID_CHARS),
    ("call_attempt", ATTEMPT, "contact_point", decoding.MAX_LABEL_CHARS),
    ("call_attempt", ATTEMPT, "borrower_tz", decoding.MAX_LABEL_CHARS),
    ("call_attempt", ATTEMPT, "agent_id", decoding.MAX_TEXT_CHARS),
    ("call_attempt", ATTEMPT, "campaign", decoding.MAX_TEXT_CHARS),
    ("repayment", REPAYMENT, "event_id", decoding.MAX_ID_CHARS),
    ("repayment", REPAYMENT, "borrower_id", decoding.MAX_ID_CHARS),
    ("repayment", REPAYMENT, "loan_id", decoding.MAX_ID_CHARS),
]


@pytest.mark.parametrize(("kind", "doc", "name", "limit"), BOUNDED_TEXT)
def test_text_fields_are_bounded(kind: str, doc: dict[str, Any], name: str, limit: int) -> None:
    """Counted in characters (code points), as JSON Schema's maxLength counts them."""
    at_limit = "界" * limit
    assert not isinstance(DECODERS[kind](payload(doc, **{name: at_limit})), Rejection)
    rejection = DECODERS[kind](payload(doc, **{name: at_limit + "x"}))
    assert isinstance(rejection, Rejection)
    assert rejection.reason is RejectReason.TOO_LONG
    assert f"{limit + 1:,} characters" in rejection.detail
    assert len(rejection.detail) < 300


def test_timestamps_and_amounts_are_bounded() -> None:
    longest = "2026-11-29T09:30:12.123456789+08:00"
    assert len(longest) == decoding.MAX_TIMESTAMP_CHARS
    assert isinstance(decode_call_attempt(payload(ATTEMPT, attempted_at=longest)), CallAttempt)
    too_long = decode_call_attempt(payload(ATTEMPT, attempted_at=longest[:-6] + "0+08:00"))
    assert isinstance(too_long, Rejection)
    assert too_long.reason is RejectReason.TOO_LONG
    amount = "1" * decoding.MAX_AMOUNT_CHARS
    assert isinstance(decode_repayment(payload(REPAYMENT, amount=amount)), Repayment)
    rejection = decode_repayment(payload(REPAYMENT, amount=amount + "0"))
    assert isinstance(rejection, Rejection)
    assert rejection.reason is RejectReason.TOO_LONG


@pytest.mark.parametrize("days", [decoding.MAX_DAYS_PAST_DUE + 1, 10**18, 1e300, 2**63 - 1])
def test_days_past_due_is_bounded(days: float) -> None:
    """1e300 is integral, so JSON Schema calls it an integer; the state could not hold it."""
    rejection = decode_repayment(payload(REPAYMENT, days_past_due=days))
    assert isinstance(rejection, Rejection)
    assert rejection.reason is RejectReason.VALUE_OUT_OF_RANGE
    most = decode_repayment(payload(REPAYMENT, days_past_due=decoding.MAX_DAYS_PAST_DUE))
    assert isinstance(most, Repayment)


@given(
    moment=st.datetimes(),
    offset_minutes=st.integers(-(24 * 60 - 1), 24 * 60 - 1),
    fraction=st.text("0123456789", min_size=1, max_size=9),
)
def test_fast_and_arithmetic_timestamp_paths_agree(
    moment: datetime, offset_minutes: int, fraction: str
) -> None:
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    stamp = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{fraction}{sign}{hours:02d}:{minutes:02d}"
    local = stamp[: len(stamp) - 6]
    assert decoding._TIMESTAMP.fullmatch(stamp)
    assert (
        decoding._epoch_ms(stamp)
        == decoding._local_ms_by_arithmetic(local) - offset_minutes * 60_000
    )


LARGE = b'{"pad": "' + b" " * MAX_PAYLOAD_BYTES + b'"}'

# (decoder, value, key, reason, words the detail must contain)
REJECTIONS: list[tuple[str, bytes | None, bytes | None, RejectReason, str]] = [
    ("call_attempt", None, KEY, RejectReason.EMPTY_VALUE, "no value"),
    ("repayment", b"", KEY, RejectReason.EMPTY_VALUE, "no value"),
    ("call_attempt", b"\xff\xfe{}", KEY, RejectReason.NOT_UTF8, "not UTF-8"),
    ("call_attempt", b'{"event_id": "\xe4\xb8"}', KEY, RejectReason.NOT_UTF8, "byte 14"),
    ("call_attempt", b'{"event_id": "ca-1",', KEY, RejectReason.NOT_JSON, "not JSON"),
    ("repayment", b"\xef\xbb\xbf{}", KEY, RejectReason.NOT_JSON, "not JSON"),
    ("call_attempt", b"NaN", KEY, RejectReason.NOT_JSON, "not JSON"),
    ("call_attempt", b"[1, 2]", KEY, RejectReason.NOT_OBJECT, "array"),
    ("repayment", b'"b-000123"', KEY, RejectReason.NOT_OBJECT, "string"),
    ("call_attempt", payload(ATTEMPT, outcome=...), KEY, RejectReason.MISSING_FIELD, ".outcome"),
    ("repayment", payload(REPAYMENT, loan_id=...), KEY, RejectReason.MISSING_FIELD, ".loan_id"),
    ("call_attempt", payload(ATTEMPT, borrower_id=123), KEY, RejectReason.WRONG_TYPE, "number"),
    ("call_attempt", payload(ATTEMPT, event_id=None), KEY, RejectReason.WRONG_TYPE, "null"),
    ("call_attempt", payload(ATTEMPT, duration_s="31"), KEY, RejectReason.WRONG_TYPE, "duration"),
    ("call_attempt", payload(ATTEMPT, channel=["voice"]), KEY, RejectReason.WRONG_TYPE, "array"),
    ("repayment", payload(REPAYMENT, days_past_due="3"), KEY, RejectReason.WRONG_TYPE, "integer"),
    ("repayment", payload(REPAYMENT, days_past_due=2.5), KEY, RejectReason.WRONG_TYPE, "whole"),
    ("repayment", payload(REPAYMENT, days_past_due=True), KEY, RejectReason.WRONG_TYPE, "boolean"),
    ("call_attempt", payload(ATTEMPT, borrower_id=""), KEY, RejectReason.EMPTY_STRING, "borrower"),
    ("call_attempt", payload(ATTEMPT, contact_point=""), KEY, RejectReason.EMPTY_STRING, "contact"),
    ("repayment", payload(REPAYMENT, event_id=""), KEY, RejectReason.EMPTY_STRING, "event_id"),
    ("call_attempt", payload(ATTEMPT, channel="wechat"), KEY, RejectReason.UNKNOWN_ENUM, "wechat"),
    ("call_attempt", payload(ATTEMPT, outcome="Answered"), KEY, RejectReason.UNKNOWN_ENUM, "answ"),
    ("repayment", payload(REPAYMENT, type="refund"), KEY, RejectReason.UNKNOWN_ENUM, "refund"),
    (
        "call_attempt",
        payload(ATTEMPT, attempted_at="2026-11-29T09:30:12"),
        KEY,
        RejectReason.TIMESTAMP_WITHOUT_OFFSET,
        "attempted_at",
    ),
    (
        "repayment",
        payload(REPAYMENT, occurred_at="2026-11-29 09:30"),
        KEY,
        RejectReason.TIMESTAMP_WITHOUT_OFFSET,
        "offset",
    ),
    (
        "call_attempt",
        payload(ATTEMPT, attempted_at="yesterday"),
        KEY,
        RejectReason.BAD_TIMESTAMP,
        "RFC",
    ),
    (
        "call_attempt",
        payload(ATTEMPT, attempted_at="2026-02-29T09:30:12Z"),
        KEY,
        RejectReason.BAD_TIMESTAMP,
        "2026-02-29",
    ),
    (
        "call_attempt",
        payload(ATTEMPT, attempted_at="2026-W48-7T09:30:12Z"),
        KEY,
        RejectReason.BAD_TIMESTAMP,
        "attempted_at",
    ),
    (
        "call_attempt",
        payload(ATTEMPT, attempted_at="2026-11-29T09:30:12+0800"),
        KEY,
        RejectReason.BAD_TIMESTAMP,
        "attempted_at",
    ),
    (
        "call_attempt",
        payload(ATTEMPT, attempted_at="2026-11-29T09:30:12Z\n"),
        KEY,
        RejectReason.BAD_TIMESTAMP,
        "attempted_at",
    ),
    (
        "call_attempt",
        payload(ATTEMPT, attempted_at=1795915812250),
        KEY,
        RejectReason.WRONG_TYPE,
        "number",
    ),
    (
        "repayment",
        payload(REPAYMENT, amount=12.5),
        KEY,
        RejectReason.FLOAT_AMOUNT,
        "12.5 is a JSON number",
    ),
    (
        "repayment",
        payload(REPAYMENT, amount=1200),
        KEY,
        RejectReason.FLOAT_AMOUNT,
        "decimal strings",
    ),
    ("repayment", payload(REPAYMENT, amount="1,200.00"), KEY, RejectReason.BAD_AMOUNT, "1,200.00"),
    ("repayment", payload(REPAYMENT, amount="1e3"), KEY, RejectReason.BAD_AMOUNT, "amount"),
    ("repayment", payload(REPAYMENT, currency="cny"), KEY, RejectReason.BAD_CURRENCY, "ISO 4217"),
    (
        "repayment",
        payload(REPAYMENT, days_past_due=-1),
        KEY,
        RejectReason.NEGATIVE_VALUE,
        "days_past",
    ),
    ("repayment", payload(REPAYMENT, amount="-5.00"), KEY, RejectReason.NEGATIVE_VALUE, "amount"),
    (
        "call_attempt",
        payload(ATTEMPT, duration_s=-0.5),
        KEY,
        RejectReason.NEGATIVE_VALUE,
        "duration_s",
    ),
    ("call_attempt", LARGE, KEY, RejectReason.TOO_LARGE, "1 MiB"),
    ("call_attempt", payload(ATTEMPT), None, RejectReason.MISSING_KEY, "no key"),
    ("repayment", payload(REPAYMENT), b"", RejectReason.MISSING_KEY, "b-000123"),
    ("call_attempt", payload(ATTEMPT), b"b-000124", RejectReason.KEY_MISMATCH, "b-000124"),
    ("repayment", payload(REPAYMENT), b"\xffb-000123", RejectReason.KEY_MISMATCH, "differs"),
    ("call_attempt", payload(ATTEMPT, loan_id="L" * 129), KEY, RejectReason.TOO_LONG, "loan_id"),
    (
        "repayment",
        payload(REPAYMENT, occurred_at="9999-12-31T23:59:59Z"),
        KEY,
        RejectReason.TIMESTAMP_OUT_OF_RANGE,
        "2000..2099",
    ),
    (
        "repayment",
        payload(REPAYMENT, days_past_due=10**25 // 10**7),
        KEY,
        RejectReason.VALUE_OUT_OF_RANGE,
        "days_past_due",
    ),
    (
        "call_attempt",
        payload(ATTEMPT, attempted_at="2026-12-30T09:30:12.250+08:00"),
        KEY,
        RejectReason.FUTURE_EVENT_TIME,
        "max_future_skew",
    ),
]


@pytest.mark.parametrize(
    ("kind", "value", "key", "reason", "detail_words"),
    REJECTIONS,
    ids=[f"{row[3].value}-{n}" for n, row in enumerate(REJECTIONS)],
)
def test_each_bad_input_gets_its_specific_reason(
    kind: str, value: bytes | None, key: bytes | None, reason: RejectReason, detail_words: str
) -> None:
    now_ms = utc_ms("2026-12-01T00:00:00+00:00")  # after every event time above but one
    rejection = DECODERS[kind](value, key, require_key=True, latest_ms=now_ms + 3_600_000)
    if reason is not RejectReason.FUTURE_EVENT_TIME:  # without a clock nothing is in the future
        assert rejection == DECODERS[kind](value, key, require_key=True)
    assert isinstance(rejection, Rejection)
    assert rejection.reason is reason
    assert detail_words in rejection.detail
    assert "\n" not in rejection.detail


def test_every_reason_code_is_exercised() -> None:
    """Three codes come from the batch step, not from decoding (see test_batch)."""
    from_batch = {RejectReason.PROCESSING_ERROR, RejectReason.CONTACT_POINT_LIMIT,
                  RejectReason.WRONG_PARTITION}  # fmt: skip
    assert {row[3] for row in REJECTIONS} == set(RejectReason) - from_batch


def test_payload_of_exactly_one_mib_is_parsed() -> None:
    body = orjson.dumps(ATTEMPT)
    padded = body[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_PAYLOAD_BYTES
    assert isinstance(decode_call_attempt(padded), CallAttempt)
    assert decode_call_attempt(padded + b" ") == Rejection(
        RejectReason.TOO_LARGE,
        "call_attempt: payload is 1,048,577 bytes; the limit is 1,048,576 (1 MiB)",
    )


def test_key_is_checked_only_when_required() -> None:
    assert isinstance(decode_call_attempt(payload(ATTEMPT), None), CallAttempt)
    assert isinstance(decode_call_attempt(payload(ATTEMPT), b"other"), CallAttempt)
    assert isinstance(decode_call_attempt(payload(ATTEMPT), KEY, require_key=True), CallAttempt)
    assert isinstance(decode_repayment(payload(REPAYMENT), KEY, require_key=True), Repayment)


def test_first_failed_check_in_field_order_is_reported() -> None:
    rejection = decode_call_attempt(payload(ATTEMPT, event_id="", channel="fax"), None)
    assert isinstance(rejection, Rejection)
    assert rejection.reason is RejectReason.EMPTY_STRING


def test_long_values_are_cut_short_in_the_detail() -> None:
    rejection = decode_call_attempt(payload(ATTEMPT, channel="x" * 10_000))
    assert isinstance(rejection, Rejection)
    assert len(rejection.detail) < 300


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=12,
)


@given(kind=st.sampled_from(sorted(DECODERS)), value=st.binary(max_size=300), key=st.binary())
def test_arbitrary_bytes_never_raise(kind: str, value: bytes, key: bytes) -> None:
    result = DECODERS[kind](value, key, require_key=True)
    assert isinstance(result, Rejection | CallAttempt | Repayment)


@given(kind=st.sampled_from(sorted(DECODERS)), doc=JSON_VALUES, key=st.none() | st.binary())
def test_arbitrary_json_never_raises(kind: str, doc: Any, key: bytes | None) -> None:
    result = DECODERS[kind](orjson.dumps(doc), key, require_key=True)
    assert isinstance(result, Rejection | CallAttempt | Repayment)
