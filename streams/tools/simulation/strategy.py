"""The collections team: who gets contacted, when, on which channel and contact point.

Mirrors a typical small-loan collection playbook: an SMS the day before and a push on the due
date; from the first day past due, attempts every day with a cadence that rises with days past
due; a channel is dropped for the next one after it fails (voice is given two tries); once
reached, the borrower is left alone for the rest of the day and often the next (a promise to
pay); emergency contacts are called only once the third-party gate is open. Attempts fall
between 08:00 and 21:30 local time except for a small share of quiet-hour violations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from streams.core.config import HOUR_MS, MINUTE_MS
from streams.core.events import (
    EMERGENCY_CONTACT_POINT,
    OUTCOME_CLASS,
    PRIMARY_CONTACT_POINT,
    OutcomeClass,
)
from streams.tools.simulation.population import Borrower, Clock, Installment, whole_seconds_between
from streams.tools.simulation.profiles import EMERGENCY_CONTACT_MIX

ROTATION: tuple[str, ...] = ("voice", "sms", "app_push", "email")
PATIENCE: dict[str, int] = {"voice": 2, "sms": 1, "app_push": 1, "email": 1}
# (lowest days past due, attempts a day, campaign), highest stage first.
STAGES: tuple[tuple[int, int, str], ...] = (
    (31, 5, "dpd31+"),
    (15, 4, "dpd15-30"),
    (4, 3, "dpd4-14"),
    (1, 2, "dpd1-3"),
)
REMINDER = "reminder"
WORKING_HOURS_MS: tuple[int, int] = (8 * HOUR_MS, 21 * HOUR_MS + 30 * MINUTE_MS)
SMS_REMINDER_HOURS_MS: tuple[int, int] = (10 * HOUR_MS, 12 * HOUR_MS)
PUSH_REMINDER_HOURS_MS: tuple[int, int] = (9 * HOUR_MS, 10 * HOUR_MS)
QUIET_SLOTS_MS: tuple[int, int] = (7 * HOUR_MS, 22 * HOUR_MS)  # an hour before/after the rules
GATE_CONSECUTIVE_FAILED = 3
PROMISE_TO_PAY_PAUSE = 0.6


class Attempt(NamedTuple):
    at_ms: int
    channel: str
    outcome: str
    contact_point: str
    campaign: str
    loan_id: str | None


@dataclass(slots=True)
class ContactState:
    """What the team knows about one borrower's reachability, as a dialler would track it."""

    channel_index: int = 0
    failures_on_channel: int = 0
    consecutive_failed: int = 0
    own_number_invalid: bool = False
    paused_through_day: int = -1

    @property
    def channel(self) -> str:
        return ROTATION[self.channel_index]

    @property
    def third_party_gate_open(self) -> bool:
        return self.own_number_invalid or self.consecutive_failed >= GATE_CONSECUTIVE_FAILED

    def record(self, channel: str, outcome: str) -> bool:
        """Update after an own-channel attempt; True when the borrower was reached."""
        outcome_class = OUTCOME_CLASS[outcome]
        if outcome_class is OutcomeClass.CONTACT:
            self.channel_index = self.failures_on_channel = self.consecutive_failed = 0
            return True
        self.consecutive_failed += 1
        if outcome_class is OutcomeClass.INVALID and channel in ("voice", "sms"):
            self.own_number_invalid = True
        if channel == self.channel:
            self.failures_on_channel += 1
            if self.failures_on_channel >= PATIENCE[channel]:
                self.channel_index = (self.channel_index + 1) % len(ROTATION)
                self.failures_on_channel = 0
        return False


@dataclass(frozen=True, slots=True)
class CollectionStrategy:
    quiet_hour_violation: float = 0.004  # share of collection attempts made in quiet hours
    emergency_contact_daily: float = 0.35  # chance of one emergency call a day once allowed

    def day(
        self, rng: random.Random, clock: Clock, borrower: Borrower, state: ContactState, day: int
    ) -> list[Attempt]:
        """The borrower's attempts on local `day`, in time order."""
        start = clock.day_start(day)
        planned = self._reminders(rng, start, borrower, day)
        overdue = borrower.overdue(start + WORKING_HOURS_MS[0])
        campaign = REMINDER
        if overdue is not None and day > state.paused_through_day:
            _, per_day, campaign = next(s for s in STAGES if overdue.days_past_due >= s[0])
            for _ in range(max(1, per_day - 1 + int(rng.random() * 3))):
                planned.append((self._attempt_time(rng, start), campaign, None))
            if state.third_party_gate_open and rng.random() < self.emergency_contact_daily:
                at_ms = start + whole_seconds_between(rng, *WORKING_HOURS_MS)
                planned.append((at_ms, EMERGENCY_CONTACT_POINT, None))
        planned.sort(key=itemgetter(0))

        profile, onset = borrower.profile, borrower.onset_ms
        attempts: list[Attempt] = []
        reached = False
        for at_ms, purpose, installment in planned:
            if purpose == EMERGENCY_CONTACT_POINT:
                if not state.third_party_gate_open:  # reached earlier today: gate closed again
                    continue
                outcome = EMERGENCY_CONTACT_MIX.draw("voice", rng.random())
                attempts.append(Attempt(at_ms, "voice", outcome, purpose, campaign, None))
                continue
            if installment is not None:  # a reminder, unless already paid
                if installment.paid_ms is not None and installment.paid_ms <= at_ms:
                    continue
                channel = "sms" if installment.due_day > day else "app_push"
                loan_id = installment.loan_id
            elif reached or overdue is None or at_ms >= overdue.settled_ms:
                continue
            else:
                channel, loan_id = state.channel, overdue.loan_id
            after_onset = onset is not None and at_ms >= onset and profile.after_onset
            mix = profile.after_onset if after_onset else profile.before_onset
            outcome = mix.draw(channel, rng.random())  # type: ignore[union-attr]
            attempts.append(
                Attempt(at_ms, channel, outcome, PRIMARY_CONTACT_POINT, purpose, loan_id)
            )
            if state.record(channel, outcome) and installment is None:
                reached = True
                if rng.random() < PROMISE_TO_PAY_PAUSE:
                    state.paused_through_day = day + 1
        return attempts

    def active_days(self, clock: Clock, borrower: Borrower) -> set[int]:
        """Days on which `day` can plan anything: reminder days and days begun overdue."""
        days: set[int] = set()
        for loan in borrower.loans:
            for installment in loan.installments:
                days.update((installment.due_day - 1, installment.due_day))
                for day in range(installment.due_day + 1, clock.days):
                    if not installment.overdue_days(clock.day_start(day) + WORKING_HOURS_MS[0]):
                        break
                    days.add(day)
        return days

    def _reminders(
        self, rng: random.Random, start: int, borrower: Borrower, day: int
    ) -> list[tuple[int, str, Installment | None]]:
        """An SMS the day before each due date, a push on the morning of it."""
        return [
            (
                start + whole_seconds_between(rng, *SMS_REMINDER_HOURS_MS)
                if installment.due_day > day
                else start + whole_seconds_between(rng, *PUSH_REMINDER_HOURS_MS),
                REMINDER,
                installment,
            )
            for loan in borrower.loans
            for installment in loan.installments
            if installment.due_day in (day, day + 1)
        ]

    def _attempt_time(self, rng: random.Random, start: int) -> int:
        if rng.random() < self.quiet_hour_violation:
            slot = QUIET_SLOTS_MS[rng.random() < 0.5]
            return start + whole_seconds_between(rng, slot, slot + HOUR_MS)
        return start + whole_seconds_between(rng, *WORKING_HOURS_MS)
