"""Borrower behaviour profiles: outcome mixes per channel and repayment habits.

The mixes follow what collections teams report for small consumer loans: right-party contact by
voice is the exception rather than the rule even for good payers, SMS and push are mostly
delivered or read without a reply, and the borrowers who vanish leave distinct traces (invalid
numbers when they change SIM, powered-off phones when they abscond, rejected calls when they
avoid). Unreachable profiles behave like an ordinary profile until their onset.
"""

from __future__ import annotations

from bisect import bisect
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate

from streams.core.events import CHANNELS, OUTCOME_CLASS


class Repayment(StrEnum):
    """How a profile settles an installment."""

    EARLY = "early"  # pays a few days before the due date
    LATE = "late"  # pays on the due date or up to a week late
    PARTIAL = "partial"  # pays part of the balance now and then
    NEVER = "never"  # pays nothing within the simulated period


@dataclass(frozen=True, slots=True)
class OutcomeMix:
    """Outcome probabilities per channel, drawn with one uniform number per attempt."""

    outcomes: dict[str, tuple[str, ...]]
    cumulative: dict[str, tuple[float, ...]]

    @classmethod
    def of(cls, weights: dict[str, dict[str, float]]) -> OutcomeMix:
        for channel, mix in weights.items():
            unknown = set(mix) - set(OUTCOME_CLASS)
            if channel not in CHANNELS or unknown:
                raise ValueError(f"outcome mix for {channel!r} names unknown outcomes {unknown}")
        return cls(
            outcomes={channel: tuple(mix) for channel, mix in weights.items()},
            cumulative={
                channel: tuple(c / sum(mix.values()) for c in accumulate(mix.values()))
                for channel, mix in weights.items()
            },
        )

    def draw(self, channel: str, u: float) -> str:
        outcomes = self.outcomes[channel]
        return outcomes[min(bisect(self.cumulative[channel], u), len(outcomes) - 1)]


@dataclass(frozen=True, slots=True)
class Profile:
    """A kind of borrower; `after_onset` is set only for profiles that become unreachable."""

    name: str
    weight: float
    repayment: Repayment
    before_onset: OutcomeMix
    after_onset: OutcomeMix | None = None
    why: str | None = None  # the label's reason once unreachable
    onset_after_due_days: tuple[int, int] = (0, 0)  # onset relative to the first due date

    @property
    def becomes_unreachable(self) -> bool:
        return self.after_onset is not None


RELIABLE_MIX = OutcomeMix.of(
    {
        "voice": {"answered": 0.72, "no_answer": 0.16, "busy": 0.06, "voicemail": 0.06},
        "sms": {"read": 0.6, "delivered": 0.25, "replied": 0.15},
        "app_push": {"read": 0.6, "delivered": 0.2, "replied": 0.2},
        "email": {"read": 0.5, "delivered": 0.4, "replied": 0.1},
    }
)
FORGETFUL_MIX = OutcomeMix.of(
    {
        "voice": {
            "answered": 0.42,
            "no_answer": 0.33,
            "busy": 0.1,
            "voicemail": 0.1,
            "powered_off": 0.05,
        },
        "sms": {"delivered": 0.45, "read": 0.45, "replied": 0.1},
        "app_push": {"delivered": 0.4, "read": 0.5, "replied": 0.1},
        "email": {"delivered": 0.6, "read": 0.35, "replied": 0.05},
    }
)
HARDSHIP_MIX = OutcomeMix.of(
    {
        "voice": {
            "answered": 0.38,
            "no_answer": 0.32,
            "busy": 0.1,
            "voicemail": 0.08,
            "rejected": 0.07,
            "powered_off": 0.05,
        },
        "sms": {"read": 0.55, "delivered": 0.35, "replied": 0.1},
        "app_push": {"read": 0.5, "delivered": 0.42, "replied": 0.08},
        "email": {"read": 0.4, "delivered": 0.55, "replied": 0.05},
    }
)
AVOIDING_MIX = OutcomeMix.of(
    {
        "voice": {
            "rejected": 0.4,
            "no_answer": 0.3,
            "blocked": 0.12,
            "busy": 0.12,
            "answered": 0.06,
        },
        "sms": {"read": 0.6, "delivered": 0.35, "blocked": 0.05},
        "app_push": {"read": 0.45, "delivered": 0.4, "blocked": 0.15},
        "email": {"delivered": 0.75, "read": 0.25},
    }
)
NUMBER_CHANGED_MIX = OutcomeMix.of(
    {
        "voice": {
            "number_suspended": 0.35,
            "number_invalid": 0.2,
            "wrong_party": 0.25,
            "no_answer": 0.15,
            "powered_off": 0.05,
        },
        "sms": {"undeliverable": 0.6, "delivered": 0.4},
        "app_push": {"delivered": 0.7, "undeliverable": 0.3},
        "email": {"delivered": 0.75, "bounced": 0.2, "read": 0.05},
    }
)
ABSCONDED_MIX = OutcomeMix.of(
    {
        "voice": {
            "powered_off": 0.45,
            "out_of_coverage": 0.2,
            "number_suspended": 0.2,
            "no_answer": 0.15,
        },
        "sms": {"undeliverable": 0.5, "delivered": 0.5},
        "app_push": {"undeliverable": 0.5, "delivered": 0.5},
        "email": {"delivered": 0.8, "bounced": 0.2},
    }
)
EMERGENCY_CONTACT_MIX = OutcomeMix.of(
    {"voice": {"answered": 0.5, "no_answer": 0.33, "rejected": 0.12, "wrong_party": 0.05}}
)

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("reliable_payer", 0.45, Repayment.EARLY, RELIABLE_MIX),
        Profile("forgetful", 0.20, Repayment.LATE, FORGETFUL_MIX),
        Profile("financial_hardship", 0.15, Repayment.PARTIAL, HARDSHIP_MIX),
        Profile(
            "active_avoider",
            0.08,
            Repayment.NEVER,
            FORGETFUL_MIX,
            AVOIDING_MIX,
            why="avoidance",
            onset_after_due_days=(1, 4),
        ),
        Profile(
            "lost_contact",
            0.07,
            Repayment.NEVER,
            FORGETFUL_MIX,
            NUMBER_CHANGED_MIX,
            why="number_changed",
            onset_after_due_days=(-5, 5),
        ),
        Profile(
            "absconder",
            0.05,
            Repayment.NEVER,
            HARDSHIP_MIX,
            ABSCONDED_MIX,
            why="absconded",
            onset_after_due_days=(-5, 5),
        ),
    )
}
DEFAULT_MIX: dict[str, float] = {name: profile.weight for name, profile in PROFILES.items()}


def parse_mix(text: str) -> dict[str, float]:
    """`lost_contact=0.5,reliable_payer=0.5` → weights; profiles not named get weight 0."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        if not sep or name.strip() not in PROFILES:
            raise ValueError(f"{part!r} is not PROFILE=WEIGHT with PROFILE one of {list(PROFILES)}")
        try:
            mix[name.strip()] = float(weight)
        except ValueError:
            raise ValueError(f"{part!r}: weight {weight!r} is not a number") from None
    if not mix or sum(mix.values()) <= 0 or min(mix.values()) < 0:
        raise ValueError(f"profile mix {text!r} needs non-negative weights with a positive sum")
    return mix
