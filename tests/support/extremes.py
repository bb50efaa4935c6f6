"""Extreme input records, each with the dead-letter reason it must get.

Every one of these once stopped the worker, made an output too large for Kafka, or let one
record harm other borrowers (or would have, had it not been rejected). They are mixed into the
scripted scenario (tests/support/scenario.py) by the replay and broker tests: the scenario's
borrowers must get exactly their alerts, and each extreme record one dead letter.
"""

from __future__ import annotations

import orjson

from tests.support.pipeline import EventRecord
from tests.support.scenario import at

POINTS_BORROWER = "x-points"
CONTACT_POINT_LIMIT = 16


def _call(event_id: str, borrower: str = "b-silent", **changes: object) -> dict:
    return {
        "event_id": event_id,
        "borrower_id": borrower,
        "attempted_at": at(2, 15),
        "channel": "voice",
        "outcome": "no_answer",
    } | changes


def _repayment(event_id: str, borrower: str = "b-lost", **changes: object) -> dict:
    return {
        "event_id": event_id,
        "borrower_id": borrower,
        "loan_id": f"{borrower}-L1",
        "occurred_at": at(1, 0, 30),
        "type": "missed",
        "amount": "320.00",
        "days_past_due": 5,
    } | changes


# (record, reason): dict records are produced keyed by their borrower_id.
EXTREMES: list[tuple[EventRecord, str]] = [
    (("call_attempt", _call("x-9999", attempted_at="9999-12-31T23:59:59Z")),
     "timestamp_out_of_range"),
    (("call_attempt", _call("x-0001", attempted_at="0001-01-01T00:00:00+23:59")),
     "timestamp_out_of_range"),
    (("call_attempt", _call("x-0000", attempted_at="0000-06-01T00:00:00Z")),
     "timestamp_out_of_range"),
    (("repayment", _repayment("x-r9999", occurred_at="9999-12-31T23:59:59Z")),
     "timestamp_out_of_range"),
    (("call_attempt", _call("x-2099", "b-avoid", attempted_at="2099-06-01T00:00:00Z")),
     "future_event_time"),
    (("repayment", _repayment("x-2098", occurred_at="2098-01-01T00:00:00+08:00")),
     "future_event_time"),
    (("repayment", _repayment("x-dpd", days_past_due=1e300)), "value_out_of_range"),
    (("repayment", _repayment("x-dpd2", days_past_due=100_001)), "value_out_of_range"),
    (("repayment", orjson.dumps(_repayment("x-big", "b-avoid"))
      .replace(b'"days_past_due":5', b'"days_past_due":10000000000000000000000000')),
     "value_out_of_range"),
    (("call_attempt", _call("x-long-borrower", "b" * 400_000)), "too_long"),
    (("call_attempt", _call("e" * 210_000)), "too_long"),
    (("repayment", _repayment("x-loan", loan_id="L" * 40_000)), "too_long"),
    (("call_attempt", _call("x-point", contact_point="p" * 65)), "too_long"),
    (("call_attempt", _call("x-tz", borrower_tz="Asia/" + "S" * 100_000)), "too_long"),
    (("call_attempt", _call("x-campaign", campaign="c" * 10_000)), "too_long"),
    (("call_attempt", _call("x-agent", agent_id="\u0001" * 129)), "too_long"),
    (("repayment", _repayment("x-amount", amount="9" * 1000)), "too_long"),
    (("call_attempt", _call("x-stamp", attempted_at=at(2, 15)[:19] + "." + "1" * 50 + "+08:00")),
     "too_long"),
    (("call_attempt", b"\xff\xfe" * 1000), "not_utf8"),
    *(
        (("call_attempt", _call(f"x-pt{n:02d}", POINTS_BORROWER, attempted_at=at(3, 10, n),
                                outcome="delivered", channel="sms", contact_point=f"p{n:02d}")),
         "applied")
        for n in range(CONTACT_POINT_LIMIT)
    ),
    (("call_attempt", _call("x-pt16", POINTS_BORROWER, attempted_at=at(3, 10, 30),
                            outcome="delivered", channel="sms", contact_point="p16")),
     "contact_point_limit"),
]  # fmt: skip

REJECTED: list[tuple[EventRecord, str]] = [(r, why) for r, why in EXTREMES if why != "applied"]


def interleaved(records: list[EventRecord]) -> list[EventRecord]:
    """The extreme records spread evenly through `records` (in their own order)."""
    mixed = list(records)
    step = max(1, len(mixed) // len(EXTREMES))
    for n, (record, _) in enumerate(EXTREMES):
        mixed.insert(min(len(mixed), n * (step + 1)), record)
    return mixed
