"""Kafka message bytes → `CallAttempt` / `Repayment`, or a specific reason why not.

Bad input must never stop the worker and must never vanish: every decode returns either an event or
a `Rejection` that the shell turns into a dead letter (`streams.core.deadletter`). The checks mirror
`schemas/call_attempt.v1.json` and `schemas/repayment.v1.json` one for one, and
`tests/unit/core/test_decoding_agreement.py` holds them to that. They are written by hand rather
than run through a generic validator because they run once per event on the hot path and because
a producer needs to be told *which* rule it broke, in a sentence."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar, overload

import orjson

from streams.core.engine.alert import format_time
from streams.core.events import (
    CHANNELS,
    OUTCOME_CLASS,
    PRIMARY_CONTACT_POINT,
    REPAYMENT_TYPES,
    CallAttempt,
    Repayment,
)

MAX_PAYLOAD_BYTES = 1024 * 1024
CALL_ATTEMPT = "call_attempt"
REPAYMENT = "repayment"
DEFAULT_CURRENCY = "CNY"

# Bounds on every input value (schemas/ carries the same as maxLength / maximum / the year range
# of EVENT_TIME_PATTERN). They keep every state, alert and dead letter far below Kafka's 1 MiB
# message limit whatever a producer sends, and every time inside what datetime can represent.
MAX_ID_CHARS = 128  # event_id, borrower_id, loan_id
MAX_LABEL_CHARS = 64  # contact_point, borrower_tz
MAX_TEXT_CHARS = 128  # agent_id, campaign
MAX_TIMESTAMP_CHARS = 35  # 2026-11-29T09:30:12.123456789+08:00: nine fraction digits
MAX_AMOUNT_CHARS = 32
MAX_DAYS_PAST_DUE = 100_000
FIRST_EVENT_YEAR, LAST_EVENT_YEAR = 2000, 2099

# RFC 3339 date-time with an explicit offset, calendar included (month lengths, leap years).
# Outputs (alert and dead-letter times) carry TIMESTAMP_PATTERN; input event times carry
# EVENT_TIME_PATTERN, the same within the years FIRST_EVENT_YEAR..LAST_EVENT_YEAR. Python matches
# the unanchored core with fullmatch because Python's `$` also matches before a trailing newline
# and ECMA 262's does not.
_DATE = (
    "(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"
)
# Every year 2000..2099 divisible by 4 is a leap year (2000 as a multiple of 400).
_EVENT_DATE = (
    "(?:20[0-9]{2}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    "|20(?:[02468][048]|[13579][26])-02-29)"
)
_TIME = "[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\\.[0-9]+)?"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
TIMESTAMP_PATTERN = f"^{_DATE}{_TIME}{_OFFSET}$"
EVENT_TIME_PATTERN = f"^{_EVENT_DATE}{_TIME}{_OFFSET}$"
AMOUNT_PATTERN = "^(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?$"
CURRENCY_PATTERN = "^[A-Z]{3}$"

_TIMESTAMP = re.compile(TIMESTAMP_PATTERN[1:-1])
_EVENT_TIME = re.compile(EVENT_TIME_PATTERN[1:-1])
_LOCAL_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?(?:\.[0-9]+)?"
)
_AMOUNT = re.compile(AMOUNT_PATTERN[1:-1])
_CURRENCY = re.compile(CURRENCY_PATTERN[1:-1])
_NAIVE_EPOCH = datetime(1970, 1, 1)
_OFFSET_MS: dict[str, int] = {
    "Z": 0,
    "z": 0,
    **{
        f"{sign}{hours:02d}:{minutes:02d}": (1 if sign == "+" else -1)
        * (hours * 60 + minutes)
        * 60_000
        for sign in "+-"
        for hours in range(24)
        for minutes in range(60)
    },
}
_MISSING: Any = object()
_SHOWN_CHARS = 80
_E = TypeVar("_E", CallAttempt, Repayment)


class RejectReason(StrEnum):
    """Why a message became a dead letter; the codes are part of the dead_letter.v1 contract."""

    EMPTY_VALUE = "empty_value"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    EMPTY_STRING = "empty_string"
    UNKNOWN_ENUM = "unknown_enum"
    TIMESTAMP_WITHOUT_OFFSET = "timestamp_without_offset"
    BAD_TIMESTAMP = "bad_timestamp"
    FLOAT_AMOUNT = "float_amount"
    BAD_AMOUNT = "bad_amount"
    BAD_CURRENCY = "bad_currency"
    NEGATIVE_VALUE = "negative_value"
    MISSING_KEY = "missing_key"
    KEY_MISMATCH = "key_mismatch"
    TOO_LONG = "too_long"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    FUTURE_EVENT_TIME = "future_event_time"
    PROCESSING_ERROR = "processing_error"
    CONTACT_POINT_LIMIT = "contact_point_limit"
    WRONG_PARTITION = "wrong_partition"  # set by the batch step, which knows the partition


class Rejection(NamedTuple):
    reason: RejectReason
    detail: (
        str  # one sentence naming the field, e.g. "repayment.amount: 12.5 is a JSON number; ..."
    )


class _Invalid(Exception):
    """The first failed check of a payload; caught in `_decode`, never leaves this module."""

    def __init__(self, reason: RejectReason, kind: str, name: str, problem: str) -> None:
        super().__init__()
        self.rejection = Rejection(reason, f"{kind}.{name}: {problem}")


def _show(value: Any) -> str:
    """A field value as the producer wrote it (JSON), cut short so details stay one line."""
    text = orjson.dumps(value).decode()
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _is_number(value: Any) -> bool:
    return value.__class__ is int or value.__class__ is float


def _basic_problem(kind: str, name: str, value: Any, expected: str) -> _Invalid:
    """Missing / wrong JSON type / empty string: the failures every field shares."""
    if value is _MISSING:
        return _Invalid(RejectReason.MISSING_FIELD, kind, name, "required field is missing")
    actual = _json_type(value)
    if actual != expected:
        return _Invalid(
            RejectReason.WRONG_TYPE,
            kind,
            name,
            f"{_show(value)} is a JSON {actual}; expected a {expected}",
        )
    return _Invalid(RejectReason.EMPTY_STRING, kind, name, "is an empty string")


def _text_problem(kind: str, name: str, value: Any, limit: int) -> _Invalid:
    if value.__class__ is str and len(value) > limit:
        return _Invalid(
            RejectReason.TOO_LONG,
            kind,
            name,
            f"{_show(value)} is {len(value):,} characters; the limit is {limit}",
        )
    return _basic_problem(kind, name, value, "string")


def _text(doc: dict[str, Any], kind: str, name: str, limit: int) -> str:
    value = doc.get(name, _MISSING)
    if value.__class__ is str and 0 < len(value) <= limit:
        return value
    raise _text_problem(kind, name, value, limit)


@overload
def _optional_text(doc: dict[str, Any], kind: str, name: str, limit: int) -> str | None: ...
@overload
def _optional_text(doc: dict[str, Any], kind: str, name: str, limit: int, default: str) -> str: ...
def _optional_text(
    doc: dict[str, Any], kind: str, name: str, limit: int, default: str | None = None
) -> str | None:
    """Optional fields may be absent or null (meaning absent); if present they are non-empty."""
    value = doc.get(name)
    if value is None:
        return default
    if value.__class__ is str and 0 < len(value) <= limit:
        return value
    raise _text_problem(kind, name, value, limit)


def _member(doc: dict[str, Any], kind: str, name: str, allowed: Collection[str]) -> str:
    value = doc.get(name, _MISSING)
    if value.__class__ is str and value in allowed:
        return value
    if value.__class__ is not str:
        raise _basic_problem(kind, name, value, "string")
    raise _Invalid(
        RejectReason.UNKNOWN_ENUM,
        kind,
        name,
        f"{_show(value)} is not one of {', '.join(allowed)}",
    )


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm, no tables)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _local_ms_by_arithmetic(local: str) -> int:
    """Epoch ms of the local part of a valid stamp, for what fromisoformat refuses."""
    seconds = (
        _days_from_civil(int(local[0:4]), int(local[5:7]), int(local[8:10])) * 86400
        + int(local[11:13]) * 3600
        + int(local[14:16]) * 60
        + int(local[17:19])
    )
    return seconds * 1000 + (int((local[20:] + "00")[:3]) if len(local) > 19 else 0)


def _epoch_ms(stamp: str) -> int:
    """UTC epoch ms of a string that matched TIMESTAMP_PATTERN; fractions below 1 ms are cut.

    The local part goes through naive `datetime.fromisoformat` (fast, and the pattern has
    already ruled out what it accepts beyond RFC 3339; naive because aware arithmetic is ten
    times slower) and the offset through a table. The RFC 3339 forms fromisoformat refuses,
    year 0000 and a leap second (:60, which lands on the next second), take the arithmetic.
    """
    local_end = len(stamp) - 1 if stamp[-1] in "Zz" else len(stamp) - 6
    local = stamp[:local_end]
    try:
        since_epoch = datetime.fromisoformat(local) - _NAIVE_EPOCH
    except ValueError:
        local_ms = _local_ms_by_arithmetic(local)
    else:
        local_ms = (
            since_epoch.days * 86_400_000
            + since_epoch.seconds * 1000
            + since_epoch.microseconds // 1000
        )
    return local_ms - _OFFSET_MS[stamp[local_end:]]


def _timestamp_ms(doc: dict[str, Any], kind: str, name: str) -> int:
    value = doc.get(name, _MISSING)
    if (
        value.__class__ is str
        and len(value) <= MAX_TIMESTAMP_CHARS
        and _EVENT_TIME.fullmatch(value)
    ):
        return _epoch_ms(value)
    if value.__class__ is not str or not value or len(value) > MAX_TIMESTAMP_CHARS:
        raise _text_problem(kind, name, value, MAX_TIMESTAMP_CHARS)
    if _TIMESTAMP.fullmatch(value):
        raise _Invalid(
            RejectReason.TIMESTAMP_OUT_OF_RANGE,
            kind,
            name,
            f"{_show(value)} is outside the years {FIRST_EVENT_YEAR}..{LAST_EVENT_YEAR}",
        )
    if _LOCAL_DATE_TIME.fullmatch(value):
        raise _Invalid(
            RejectReason.TIMESTAMP_WITHOUT_OFFSET,
            kind,
            name,
            f"{_show(value)} has no UTC offset; write it like 2026-11-29T09:30:00+08:00 or …Z",
        )
    raise _Invalid(
        RejectReason.BAD_TIMESTAMP,
        kind,
        name,
        f"{_show(value)} is not an RFC 3339 date-time like 2026-11-29T09:30:00+08:00",
    )


def _non_negative(
    doc: dict[str, Any], kind: str, name: str, *, integer: bool
) -> int | float | None:
    """JSON Schema counts 3.0 as an integer, so an integral float is accepted (as an int)."""
    value = doc.get(name, _MISSING)
    if _is_number(value) and (not integer or value.__class__ is int or value.is_integer()):
        if value < 0:
            raise _Invalid(RejectReason.NEGATIVE_VALUE, kind, name, f"{_show(value)} is below 0")
        if not integer:
            number: float = value
            return number
        if value <= MAX_DAYS_PAST_DUE:
            return int(value)
        raise _Invalid(
            RejectReason.VALUE_OUT_OF_RANGE,
            kind,
            name,
            f"{_show(value)} is above {MAX_DAYS_PAST_DUE:,}",
        )
    if value is _MISSING or not _is_number(value):
        raise _basic_problem(kind, name, value, "integer" if integer else "number")
    raise _Invalid(RejectReason.WRONG_TYPE, kind, name, f"{_show(value)} is not a whole number")


def _optional_non_negative(doc: dict[str, Any], kind: str, name: str) -> int | float | None:
    return None if doc.get(name) is None else _non_negative(doc, kind, name, integer=False)


def _amount(doc: dict[str, Any], kind: str, name: str) -> str:
    value = doc.get(name, _MISSING)
    if value.__class__ is str and len(value) <= MAX_AMOUNT_CHARS and _AMOUNT.fullmatch(value):
        return value
    if value.__class__ is str and len(value) > MAX_AMOUNT_CHARS:
        raise _text_problem(kind, name, value, MAX_AMOUNT_CHARS)
    if _is_number(value):
        raise _Invalid(
            RejectReason.FLOAT_AMOUNT,
            kind,
            name,
            f'{_show(value)} is a JSON number; amounts are decimal strings like "120.50"',
        )
    if value.__class__ is not str or not value:
        raise _basic_problem(kind, name, value, "string")
    if value[0] == "-" and _AMOUNT.fullmatch(value[1:]):
        raise _Invalid(RejectReason.NEGATIVE_VALUE, kind, name, f"{_show(value)} is below 0")
    raise _Invalid(
        RejectReason.BAD_AMOUNT,
        kind,
        name,
        f'{_show(value)} is not a decimal string like "120.50" or "3000"',
    )


def _currency(doc: dict[str, Any], kind: str, name: str) -> str:
    value = doc.get(name)
    if value is None:
        return DEFAULT_CURRENCY
    if value.__class__ is str and _CURRENCY.fullmatch(value):
        return value
    if value.__class__ is not str or not value:
        raise _basic_problem(kind, name, value, "string")
    raise _Invalid(
        RejectReason.BAD_CURRENCY,
        kind,
        name,
        f"{_show(value)} is not an ISO 4217 code of three capital letters like CNY",
    )


def _call_attempt(doc: dict[str, Any]) -> CallAttempt:
    kind = CALL_ATTEMPT
    # Positional in field order: keyword arguments cost a fifth of the whole decode budget.
    attempt = CallAttempt(
        _text(doc, kind, "event_id", MAX_ID_CHARS),
        _text(doc, kind, "borrower_id", MAX_ID_CHARS),
        _timestamp_ms(doc, kind, "attempted_at"),
        _member(doc, kind, "channel", CHANNELS),
        _member(doc, kind, "outcome", OUTCOME_CLASS),
        _optional_text(doc, kind, "contact_point", MAX_LABEL_CHARS, PRIMARY_CONTACT_POINT),
        _optional_text(doc, kind, "loan_id", MAX_ID_CHARS),
        _optional_text(doc, kind, "borrower_tz", MAX_LABEL_CHARS),
    )
    # Validated for the contract's sake; the engine does not use them.
    _optional_text(doc, kind, "agent_id", MAX_TEXT_CHARS)
    _optional_text(doc, kind, "campaign", MAX_TEXT_CHARS)
    _optional_non_negative(doc, kind, "duration_s")
    return attempt


def _repayment(doc: dict[str, Any]) -> Repayment:
    kind = REPAYMENT
    return Repayment(
        _text(doc, kind, "event_id", MAX_ID_CHARS),
        _text(doc, kind, "borrower_id", MAX_ID_CHARS),
        _text(doc, kind, "loan_id", MAX_ID_CHARS),
        _timestamp_ms(doc, kind, "occurred_at"),
        _member(doc, kind, "type", REPAYMENT_TYPES),
        _amount(doc, kind, "amount"),
        _non_negative(doc, kind, "days_past_due", integer=True),  # type: ignore[arg-type]
        _currency(doc, kind, "currency"),
    )


def _unparseable(kind: str, value: bytes, error: orjson.JSONDecodeError) -> Rejection:
    try:
        str(value, "utf-8")
    except UnicodeDecodeError as bad:
        return Rejection(
            RejectReason.NOT_UTF8, f"{kind}: payload is not UTF-8 (byte {bad.start}: {bad.reason})"
        )
    return Rejection(RejectReason.NOT_JSON, f"{kind}: payload is not JSON ({error})")


def _key_problem(kind: str, key: bytes | None, borrower_id: str) -> Rejection | None:
    if not key:
        return Rejection(
            RejectReason.MISSING_KEY,
            f"{kind}: the Kafka message has no key; producers key by borrower_id ({borrower_id})",
        )
    if key != borrower_id.encode():
        shown = str(key[:_SHOWN_CHARS], "utf-8", "replace")
        return Rejection(
            RejectReason.KEY_MISMATCH,
            f"{kind}: Kafka key {shown!r} differs from borrower_id {borrower_id!r}",
        )
    return None


def _future(kind: str, event: CallAttempt | Repayment, latest_ms: int) -> Rejection:
    name = "attempted_at" if kind == CALL_ATTEMPT else "occurred_at"
    ahead_s = (event.at_ms - latest_ms) // 1000
    return Rejection(
        RejectReason.FUTURE_EVENT_TIME,
        f"{kind}.{name}: {format_time(event.at_ms)} is {ahead_s:,} s beyond the latest event "
        f"time accepted now ({format_time(latest_ms)}: the worker's clock plus max_future_skew)",
    )


def _decode(
    kind: str,
    build: Callable[[dict[str, Any]], _E],
    value: bytes | None,
    key: bytes | None,
    *,
    require_key: bool,
    latest_ms: int | None,
) -> _E | Rejection:
    if not value:
        return Rejection(RejectReason.EMPTY_VALUE, f"{kind}: the Kafka message has no value")
    if len(value) > MAX_PAYLOAD_BYTES:
        return Rejection(
            RejectReason.TOO_LARGE,
            f"{kind}: payload is {len(value):,} bytes; the limit is {MAX_PAYLOAD_BYTES:,} (1 MiB)",
        )
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return _unparseable(kind, value, error)
    if doc.__class__ is not dict:
        return Rejection(
            RejectReason.NOT_OBJECT, f"{kind}: payload is a JSON {_json_type(doc)}, not an object"
        )
    try:
        event = build(doc)
    except _Invalid as invalid:
        return invalid.rejection
    if latest_ms is not None and event.at_ms > latest_ms:
        return _future(kind, event, latest_ms)
    if require_key and (problem := _key_problem(kind, key, event.borrower_id)):
        return problem
    return event


def decode_call_attempt(
    value: bytes | None,
    key: bytes | None = None,
    *,
    require_key: bool = False,
    latest_ms: int | None = None,
) -> CallAttempt | Rejection:
    """A call_attempt.v1 message, or why it is not one. Never raises. `latest_ms` is the latest
    event time accepted (the caller's clock plus the allowed skew); None accepts any."""
    return _decode(
        CALL_ATTEMPT, _call_attempt, value, key, require_key=require_key, latest_ms=latest_ms
    )


def decode_repayment(
    value: bytes | None,
    key: bytes | None = None,
    *,
    require_key: bool = False,
    latest_ms: int | None = None,
) -> Repayment | Rejection:
    """A repayment.v1 message, or why it is not one. Never raises; `latest_ms` as above."""
    return _decode(REPAYMENT, _repayment, value, key, require_key=require_key, latest_ms=latest_ms)


DECODERS: dict[str, Callable[..., CallAttempt | Repayment | Rejection]] = {
    CALL_ATTEMPT: decode_call_attempt,
    REPAYMENT: decode_repayment,
}
