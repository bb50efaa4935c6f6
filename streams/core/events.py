"""Input event models and the outcome taxonomy (docs/design.md, "Events and outcomes").

Events are decoded once at the edge (see `streams.core.decoding`) into these small frozen
records; everything downstream, the engine included, works on them and never on raw JSON.
Times are kept as UTC epoch milliseconds so that windows are integer arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutcomeClass(StrEnum):
    CONTACT = "contact"
    NO_RESPONSE = "no_response"
    AVOIDANCE = "avoidance"
    UNREACHABLE = "unreachable"
    INVALID = "invalid"


OUTCOME_CLASS: dict[str, OutcomeClass] = {
    "answered": OutcomeClass.CONTACT,
    "replied": OutcomeClass.CONTACT,
    "no_answer": OutcomeClass.NO_RESPONSE,
    "busy": OutcomeClass.NO_RESPONSE,
    "voicemail": OutcomeClass.NO_RESPONSE,
    "delivered": OutcomeClass.NO_RESPONSE,
    "read": OutcomeClass.NO_RESPONSE,
    "rejected": OutcomeClass.AVOIDANCE,
    "blocked": OutcomeClass.AVOIDANCE,
    "powered_off": OutcomeClass.UNREACHABLE,
    "out_of_coverage": OutcomeClass.UNREACHABLE,
    "number_suspended": OutcomeClass.INVALID,
    "number_invalid": OutcomeClass.INVALID,
    "wrong_party": OutcomeClass.INVALID,
    "bounced": OutcomeClass.INVALID,
    "undeliverable": OutcomeClass.INVALID,
}

CHANNELS: tuple[str, ...] = ("voice", "sms", "app_push", "email")
REPAYMENT_TYPES: tuple[str, ...] = ("due", "payment", "missed")
PRIMARY_CONTACT_POINT = "primary"
EMERGENCY_CONTACT_POINT = "emergency_contact"


@dataclass(frozen=True, slots=True)
class CallAttempt:
    """One attempt to reach a borrower (call_attempt.v1)."""

    event_id: str
    borrower_id: str
    at_ms: int  # attempted_at as UTC epoch milliseconds
    channel: str
    outcome: str
    contact_point: str = PRIMARY_CONTACT_POINT
    loan_id: str | None = None
    borrower_tz: str | None = None

    @property
    def outcome_class(self) -> OutcomeClass:
        return OUTCOME_CLASS[self.outcome]

    @property
    def is_third_party(self) -> bool:
        return self.contact_point == EMERGENCY_CONTACT_POINT


@dataclass(frozen=True, slots=True)
class Repayment:
    """One change on a loan (repayment.v1); amount stays a decimal string, never a float."""

    event_id: str
    borrower_id: str
    loan_id: str
    at_ms: int  # occurred_at as UTC epoch milliseconds
    type: str
    amount: str
    days_past_due: int
    currency: str = "CNY"


Event = CallAttempt | Repayment
