"""The scripted multi-borrower scenario shared by the pipeline tests and the replay test.

Each borrower exercises one rule; EXPECTED lists, per borrower and in order, the transitions a
person derived from docs/rules.md with the default thresholds (not from running the code).
Times are Asia/Shanghai daytime unless a borrower is about quiet hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

from tests.support.pipeline import EventRecord

DAY1 = datetime.fromisoformat("2026-11-02T00:00:00+08:00")
_ids = count(1)


def at(day: int, hour: int, minute: int = 0) -> str:
    return (DAY1 + timedelta(days=day - 1, hours=hour, minutes=minute)).isoformat()


def call(borrower: str, when: str, channel: str, outcome: str, **extra: str) -> EventRecord:
    event = {
        "event_id": f"{borrower}-c{next(_ids):04d}",
        "borrower_id": borrower,
        "attempted_at": when,
        "channel": channel,
        "outcome": outcome,
    }
    return ("call_attempt", event | extra)


def repayment(borrower: str, when: str, type_: str, dpd: int, loan: str = "L1") -> EventRecord:
    event = {
        "event_id": f"{borrower}-r{next(_ids):04d}",
        "borrower_id": borrower,
        "loan_id": f"{borrower}-{loan}",
        "occurred_at": when,
        "type": type_,
        "amount": "320.00",
        "days_past_due": dpd,
    }
    return ("repayment", event)


def _avoider() -> list[EventRecord]:
    b = "b-avoid"
    return [
        call(b, at(1, 10), "voice", "rejected"),
        call(b, at(1, 12), "voice", "rejected"),
        call(b, at(1, 14), "voice", "blocked"),  # 3 avoidance in 48 h: raised
        call(b, at(2, 10), "voice", "answered"),  # contact: resolved
    ]


def _silent() -> list[EventRecord]:
    b = "b-silent"
    unanswered = [call(b, at(day, hour), "voice", "no_answer")
                  for day in range(1, 6) for hour in (10, 16)]  # fmt: skip
    # 5th: consecutive raised; 6th (within 54 h): low contact rate raised; 10th: escalated.
    # Contact at day 5 18:00: consecutive resolved; in 72 h 1 contact of 7 attempts = 14 %.
    return [*unanswered, call(b, at(5, 18), "voice", "answered")]


def _stale_number() -> list[EventRecord]:
    b = "b-stale"
    return [
        call(b, at(1, 9), "voice", "number_suspended"),
        call(b, at(1, 15), "voice", "number_suspended"),  # 2 invalid on primary in 7 d: raised
        call(b, at(2, 11), "voice", "answered"),  # contact on primary: resolved
    ]


def _lost_and_overdue() -> list[EventRecord]:
    b = "b-lost"
    return [
        repayment(b, at(1, 0, 5), "due", 0),
        repayment(b, at(1, 0, 10), "missed", 3),
        call(b, at(1, 10), "voice", "powered_off"),
        call(b, at(1, 11), "sms", "undeliverable"),  # one invalid outcome: below min_invalid
        # 3 channels, none reached (a delivered message would have reached); dpd 3
        call(b, at(1, 12), "app_push", "out_of_coverage"),
        repayment(b, at(1, 13), "payment", 0),  # overdue ends: unreachable_while_overdue resolved
    ]


def _quiet_hours() -> list[EventRecord]:
    b = "b-night"
    return [
        call(b, at(1, 23), "voice", "answered"),  # 23:00 local: quiet-hours violation
        call(b, at(1, 23, 30), "voice", "answered"),  # same kind, same local day: no new alert
    ]


def _emergency_contact() -> list[EventRecord]:
    b = "b-third"
    return [call(b, at(1, 10), "voice", "answered", contact_point="emergency_contact")]


def _reachable() -> list[EventRecord]:
    b = "b-fine"
    return [
        repayment(b, at(1, 0, 5), "due", 0),
        call(b, at(1, 10), "voice", "no_answer"),
        call(b, at(1, 11), "sms", "replied"),
        repayment(b, at(1, 12), "payment", 0),
    ]


def scenario() -> list[EventRecord]:
    """All borrowers' events interleaved by event time (the order they are produced in)."""
    streams = [_avoider(), _silent(), _stale_number(), _lost_and_overdue(), _quiet_hours(),
               _emergency_contact(), _reachable()]  # fmt: skip

    def event_time(record: EventRecord) -> str:
        event = record[1]
        assert isinstance(event, dict)
        return str(event.get("attempted_at") or event.get("occurred_at"))

    merged = sorted((r for stream in streams for r in stream), key=event_time)
    first_avoidance = streams[0][0]
    merged.insert(merged.index(first_avoidance) + 1, first_avoidance)  # redelivered: ignored
    return merged


EXPECTED: dict[str, list[tuple[str, str, str]]] = {
    "b-avoid": [
        ("active_avoidance", "raised", "warning"),
        ("active_avoidance", "resolved", "warning"),
    ],
    "b-silent": [
        ("consecutive_unanswered", "raised", "warning"),
        ("low_contact_rate", "raised", "warning"),
        ("consecutive_unanswered", "escalated", "critical"),
        ("consecutive_unanswered", "resolved", "critical"),
        ("low_contact_rate", "resolved", "warning"),
    ],
    "b-stale": [
        ("contact_info_invalid", "raised", "warning"),
        ("contact_info_invalid", "resolved", "warning"),
    ],
    "b-lost": [
        ("all_channels_failed", "raised", "critical"),
        ("unreachable_while_overdue", "raised", "critical"),
        ("unreachable_while_overdue", "resolved", "critical"),
    ],
    "b-night": [("contact_policy", "raised", "warning")],
    "b-third": [("contact_policy", "raised", "warning")],
    "b-fine": [],
}
