"""The hand-written decoder and the schema files agree on accept/reject, payload by payload.

Two independent validators read `schemas/`: jsonschema (with ECMA 262 `$`, see below) and
fastjsonschema (which also asserts `format: date-time`). For every generated payload, valid or
mutated, the decoder returns an event exactly when both validators accept it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, ValidationError, validators

from streams.core.decoding import (
    AMOUNT_PATTERN,
    DECODERS,
    FIRST_EVENT_YEAR,
    LAST_EVENT_YEAR,
    MAX_AMOUNT_CHARS,
    MAX_DAYS_PAST_DUE,
    MAX_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_TEXT_CHARS,
    MAX_TIMESTAMP_CHARS,
    Rejection,
    decode_call_attempt,
    decode_repayment,
)
from streams.core.events import CHANNELS, OUTCOME_CLASS, REPAYMENT_TYPES

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """JSON Schema patterns are ECMA 262, where `$` is the end of input; jsonschema uses
    Python's `re`, whose `$` also matches before a trailing newline."""
    if validator.is_type(instance, "string") and not re.search(
        _UNESCAPED_DOLLAR.sub(r"\\Z", pattern), instance
    ):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaDraft7Validator = validators.extend(Draft7Validator, {"pattern": _ecma_pattern})


def schema_validators(kind: str) -> tuple[Callable[[Any], bool], Callable[[Any], bool]]:
    schema = json.loads((SCHEMAS / f"{kind}.v1.json").read_text())
    by_jsonschema = EcmaDraft7Validator(schema)
    compiled = fastjsonschema.compile(schema)

    def by_fastjsonschema(doc: Any) -> bool:
        try:
            compiled(doc)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    return by_jsonschema.is_valid, by_fastjsonschema


VALIDATORS = {kind: schema_validators(kind) for kind in DECODERS}

# --- valid field values -------------------------------------------------------------------

TEXT = st.text(min_size=1, max_size=20)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 date-times with offset in the event years, including the rarer legal forms."""
    moment = draw(
        st.datetimes(
            datetime(FIRST_EVENT_YEAR, 1, 1), datetime(LAST_EVENT_YEAR, 12, 31, 23, 59, 59)
        )
    )
    year = None
    second = draw(st.sampled_from([f"{moment.second:02d}", "60"]))
    fraction = draw(st.sampled_from(["", "."]))
    if fraction:
        fraction += draw(st.text("0123456789", min_size=1, max_size=9))
    offset = draw(
        st.sampled_from(["Z", "z"])
        | st.builds(
            lambda sign, hours, minutes: f"{sign}{hours:02d}:{minutes:02d}",
            st.sampled_from("+-"),
            st.integers(0, 23),
            st.integers(0, 59),
        )
    )
    separator = draw(st.sampled_from("Tt"))
    return (
        f"{year or f'{moment.year:04d}'}-{moment:%m-%d}{separator}{moment:%H:%M}:{second}"
        f"{fraction}{offset}"
    )


AMOUNTS = st.from_regex(AMOUNT_PATTERN[1:-1], fullmatch=True).filter(
    lambda amount: len(amount) <= MAX_AMOUNT_CHARS
)
NON_NEGATIVE_NUMBERS = st.integers(0, 10**9) | st.floats(0, 1e9)

CALL_ATTEMPTS = st.fixed_dictionaries(
    {
        "event_id": TEXT,
        "borrower_id": TEXT,
        "attempted_at": timestamps(),
        "channel": st.sampled_from(CHANNELS),
        "outcome": st.sampled_from(list(OUTCOME_CLASS)),
    },
    optional={
        "contact_point": st.none() | st.sampled_from(["primary", "secondary", "emergency_contact"]),
        "loan_id": st.none() | TEXT,
        "duration_s": st.none() | NON_NEGATIVE_NUMBERS,
        "agent_id": st.none() | TEXT,
        "campaign": st.none() | TEXT,
        "borrower_tz": st.none() | st.sampled_from(["Asia/Shanghai", "Asia/Urumqi", "UTC"]),
    },
)
REPAYMENTS = st.fixed_dictionaries(
    {
        "event_id": TEXT,
        "borrower_id": TEXT,
        "loan_id": TEXT,
        "occurred_at": timestamps(),
        "type": st.sampled_from(REPAYMENT_TYPES),
        "amount": AMOUNTS,
        "days_past_due": st.integers(0, 3650) | st.integers(0, 3650).map(float),
    },
    optional={"currency": st.none() | st.sampled_from(["CNY", "HKD", "USD"])},
)

# --- values near and across the boundary ---------------------------------------------------

ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=6,
)


_OFFSET = re.compile(r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$")


def _bad_stamp(stamp: str, how: str) -> Any:
    changes: dict[str, Callable[[str], Any]] = {
        "no_offset": lambda s: _OFFSET.sub("", s),
        "space": lambda s: s[:10] + " " + s[11:],
        "offset_without_colon": lambda s: _OFFSET.sub("+0800", s),
        "newline": lambda s: s + "\n",
        "leading_space": lambda s: " " + s,
        "feb_30": lambda s: s[:5] + "02-30" + s[10:],
        "feb_29": lambda s: s[:5] + "02-29" + s[10:],
        "apr_31": lambda s: s[:5] + "04-31" + s[10:],
        "hour_24": lambda s: s[:11] + "24" + s[13:],
        "offset_24": lambda s: _OFFSET.sub("+24:00", s),
        "unicode_digit": lambda s: "٢" + s[1:],
        "date_only": lambda s: s[:10],
        "week_date": lambda _: "2026-W48-7T09:30:00Z",
        "epoch_ms": lambda _: 1_795_915_812_250,
        "year_before": lambda s: f"{FIRST_EVENT_YEAR - 1}" + s[4:],
        "year_after": lambda s: f"{LAST_EVENT_YEAR + 1}" + s[4:],
        "year_0000": lambda s: "0000" + s[4:],
        "year_9999": lambda s: "9999" + s[4:],
        "long_fraction": lambda s: s[:19] + "." + "1" * 20 + "Z",
    }
    return changes[how](stamp)


BAD_STAMPS = st.builds(
    _bad_stamp,
    timestamps(),
    st.sampled_from(
        [
            "no_offset",
            "space",
            "offset_without_colon",
            "newline",
            "leading_space",
            "feb_30",
            "feb_29",
            "apr_31",
            "hour_24",
            "offset_24",
            "unicode_digit",
            "date_only",
            "week_date",
            "epoch_ms",
            "year_before",
            "year_after",
            "year_0000",
            "year_9999",
            "long_fraction",
        ]
    ),
)


def near_limit(limit: int) -> st.SearchStrategy[str]:
    """Strings of exactly `limit` characters and one either side, in ASCII and beyond."""
    return st.builds(
        lambda n, char: char * n,
        st.sampled_from([limit - 1, limit, limit + 1]),
        st.sampled_from(["x", "界", "😀", "\u0001"]),
    )


def near_timestamp_limit() -> st.SearchStrategy[str]:
    """Valid stamps padded with fraction digits to the length limit and one beyond it."""
    return st.builds(
        lambda stamp, extra: stamp[:19] + "." + "5" * (MAX_TIMESTAMP_CHARS - 21 + extra) + "Z",
        timestamps(),
        st.sampled_from([-1, 0, 1]),
    )


BAD_TEXT = st.sampled_from(["", " ", "\n"]) | st.none() | ANY_JSON
BAD_NUMBERS = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats(-1e12, 1e12)
    | st.sampled_from([-0.0, 3.0, 2.5, True, False, "3", None, 1e300, 2**63 - 1])
    | st.sampled_from([MAX_DAYS_PAST_DUE - 1, MAX_DAYS_PAST_DUE, MAX_DAYS_PAST_DUE + 1])
    | st.sampled_from([MAX_DAYS_PAST_DUE, MAX_DAYS_PAST_DUE + 1]).map(float)
)
BAD_AMOUNTS = (
    AMOUNTS.map(lambda a: "-" + a)
    | st.sampled_from(["1,200.00", "1e3", "+5", ".5", "5.", "01.00", "", " 5", "5\n", "١٢"])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(0, 10**6)
    | ANY_JSON
    | near_limit(MAX_AMOUNT_CHARS).map(lambda text: "1" * len(text))
)


def bad_enum(values: tuple[str, ...] | list[str]) -> st.SearchStrategy[Any]:
    near = [v.upper() for v in values] + [v + " " for v in values] + [v + "\n" for v in values]
    return st.sampled_from(near) | st.text(max_size=12) | ANY_JSON


BAD_TIMES = BAD_STAMPS | BAD_TEXT | near_timestamp_limit()
CALL_ATTEMPT_BAD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "event_id": BAD_TEXT | near_limit(MAX_ID_CHARS),
    "borrower_id": BAD_TEXT | near_limit(MAX_ID_CHARS),
    "attempted_at": BAD_TIMES,
    "channel": bad_enum(CHANNELS),
    "outcome": bad_enum(list(OUTCOME_CLASS)),
    "contact_point": BAD_TEXT | near_limit(MAX_LABEL_CHARS),
    "loan_id": BAD_TEXT | near_limit(MAX_ID_CHARS),
    "duration_s": BAD_NUMBERS,
    "agent_id": BAD_TEXT | near_limit(MAX_TEXT_CHARS),
    "campaign": BAD_TEXT | near_limit(MAX_TEXT_CHARS),
    "borrower_tz": BAD_TEXT | near_limit(MAX_LABEL_CHARS),
}
REPAYMENT_BAD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "event_id": BAD_TEXT | near_limit(MAX_ID_CHARS),
    "borrower_id": BAD_TEXT | near_limit(MAX_ID_CHARS),
    "loan_id": BAD_TEXT | near_limit(MAX_ID_CHARS),
    "occurred_at": BAD_TIMES,
    "type": bad_enum(REPAYMENT_TYPES),
    "amount": BAD_AMOUNTS,
    "days_past_due": BAD_NUMBERS,
    "currency": st.sampled_from(["cny", "CN", "CNYY", "CNY\n", "", "€"]) | ANY_JSON,
}


@st.composite
def mutated(
    draw: st.DrawFn,
    valid: st.SearchStrategy[dict[str, Any]],
    bad: dict[str, st.SearchStrategy[Any]],
) -> dict[str, Any]:
    """A valid payload with 1-2 fields dropped or replaced (often still valid: optional fields,
    near misses), plus unknown extra fields."""
    doc = draw(valid)
    for _ in range(draw(st.integers(1, 2))):
        field = draw(st.sampled_from(sorted(bad)))
        if draw(st.booleans()):
            doc.pop(field, None)
        else:
            doc[field] = draw(bad[field])
    extras = draw(st.dictionaries(TEXT.filter(lambda name: name not in bad), ANY_JSON, max_size=2))
    return {**extras, **doc}


def decoder_agrees_with_schema(kind: str, doc: Any) -> None:
    raw = orjson.dumps(doc)
    accepted = not isinstance(DECODERS[kind](raw), Rejection)
    parsed = orjson.loads(raw)
    by_jsonschema, by_fastjsonschema = VALIDATORS[kind]
    assert (accepted, accepted) == (by_jsonschema(parsed), by_fastjsonschema(parsed)), raw


AGREEMENT = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@AGREEMENT
@given(doc=mutated(CALL_ATTEMPTS, CALL_ATTEMPT_BAD_VALUES))
def test_call_attempt_decoder_agrees_with_schema(doc: dict[str, Any]) -> None:
    decoder_agrees_with_schema("call_attempt", doc)


@AGREEMENT
@given(doc=mutated(REPAYMENTS, REPAYMENT_BAD_VALUES))
def test_repayment_decoder_agrees_with_schema(doc: dict[str, Any]) -> None:
    decoder_agrees_with_schema("repayment", doc)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(DECODERS)), doc=ANY_JSON)
def test_decoder_agrees_with_schema_on_arbitrary_json(kind: str, doc: Any) -> None:
    decoder_agrees_with_schema(kind, doc)


@settings(max_examples=300, deadline=None)
@given(attempt=CALL_ATTEMPTS, repayment=REPAYMENTS)
def test_generated_valid_payloads_are_accepted(
    attempt: dict[str, Any], repayment: dict[str, Any]
) -> None:
    """Keeps the agreement tests honest: the valid generators really produce valid events."""
    assert not isinstance(decode_call_attempt(orjson.dumps(attempt)), Rejection)
    assert not isinstance(decode_repayment(orjson.dumps(repayment)), Rejection)


@settings(max_examples=300, deadline=None)
@given(stamp=BAD_STAMPS.filter(lambda s: not (isinstance(s, str) and "-02-29" in s)))
def test_broken_timestamps_are_rejected_by_both_sides(stamp: Any) -> None:
    """…and the mutations really break things (29 February is legal in leap years)."""
    doc = {"event_id": "e", "borrower_id": "b", "channel": "sms", "outcome": "read"}
    doc["attempted_at"] = stamp
    assert isinstance(decode_call_attempt(orjson.dumps(doc)), Rejection)
    assert not VALIDATORS["call_attempt"][0](doc)
