"""Borrowers, their loans and ledger, and the ground-truth labels a backtest scores against.

Loans are Huabei-style: a principal split into monthly installments (plus a monthly fee), each
due at the end of a local calendar day. Every payment is planned up front from the profile, so
a borrower's days past due at any instant is known before any contact is simulated; collections
cannot change when someone pays, which keeps the generator one pass and the labels exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

from streams.core.config import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS
from streams.tools.simulation.profiles import PROFILES, Profile, Repayment

TENORS_MONTHS: tuple[int, ...] = (1, 3, 6, 12)
MONTHLY_FEE_PER_MILLE = 6  # 0.6 % a month, typical of Huabei installment plans
DAYTIME_MS: tuple[int, int] = (9 * HOUR_MS, 22 * HOUR_MS)
LEDGER_BATCH_MS = 30 * MINUTE_MS


NEVER_MS = 2**63


def whole_seconds_between(rng: random.Random, low_ms: int, high_ms: int) -> int:
    """A uniform instant in [low, high) on a whole second, so it survives RFC 3339 exactly.

    One `random()` instead of `randrange`: the generator's hot path draws millions of these.
    """
    return low_ms + int(rng.random() * ((high_ms - low_ms) // SECOND_MS)) * SECOND_MS


class Overdue(NamedTuple):
    days_past_due: int
    loan_id: str  # the loan furthest behind
    settled_ms: int  # when the last overdue installment is paid; NEVER_MS if not planned


@dataclass(slots=True)
class Installment:
    loan_id: str
    due_day: int  # simulated day index of the due date
    due_end_ms: int  # the end of that local day: unpaid after this means overdue
    amount_cents: int
    payments: list[tuple[int, int]] = field(default_factory=list)  # (at_ms, cents), in order
    paid_ms: int | None = None  # when the last cent arrived

    def overdue_days(self, at_ms: int) -> int:
        """Days past due at `at_ms`: 1 from the first instant after the due day."""
        if at_ms < self.due_end_ms or (self.paid_ms is not None and self.paid_ms <= at_ms):
            return 0
        return (at_ms - self.due_end_ms) // DAY_MS + 1

    def outstanding_cents(self, at_ms: int) -> int:
        return self.amount_cents - sum(cents for t, cents in self.payments if t <= at_ms)


@dataclass(slots=True)
class Loan:
    loan_id: str
    installments: list[Installment]

    def days_past_due(self, at_ms: int) -> int:
        return max((i.overdue_days(at_ms) for i in self.installments), default=0)


@dataclass(slots=True)
class Borrower:
    borrower_id: str
    profile: Profile
    loans: list[Loan]
    onset_ms: int | None  # when they became unreachable; None for reachable profiles

    def days_past_due(self, at_ms: int) -> int:
        return max(loan.days_past_due(at_ms) for loan in self.loans)

    def overdue(self, at_ms: int) -> Overdue | None:
        """Days past due at `at_ms`, the loan furthest behind, and when all of it gets paid."""
        days_past_due, loan_id, settled_ms = 0, "", 0
        for loan in self.loans:
            for installment in loan.installments:
                days = installment.overdue_days(at_ms)
                if days:
                    paid_ms = installment.paid_ms
                    settled_ms = max(settled_ms, NEVER_MS if paid_ms is None else paid_ms)
                    if days > days_past_due:
                        days_past_due, loan_id = days, loan.loan_id
        return Overdue(days_past_due, loan_id, settled_ms) if days_past_due else None

    def label(self, clock: Clock) -> dict[str, object]:
        return {
            "borrower_id": self.borrower_id,
            "profile": self.profile.name,
            "unreachable": self.onset_ms is not None,
            "onset": None if self.onset_ms is None else clock.format(self.onset_ms),
            "why": self.profile.why if self.onset_ms is not None else None,
        }


SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991


class Clock:
    """Simulated local days in Asia/Shanghai and fast RFC 3339 formatting of their instants."""

    def __init__(self, start: datetime, days: int) -> None:
        self.first_day: date = (start.astimezone(SHANGHAI)).date()
        self.origin_ms = int(
            datetime.combine(self.first_day, datetime.min.time(), SHANGHAI).timestamp() * 1000
        )
        self.days = days
        self.end_ms = self.day_start(days)
        self._dates = [(self.first_day + timedelta(days=d)).isoformat() for d in range(days + 1)]
        # Every second of a day as text once, so formatting an instant is two lookups.
        self._times = [
            f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+08:00" for s in range(86_400)
        ]

    def day_start(self, day: int) -> int:
        return self.origin_ms + day * DAY_MS

    def day_of(self, at_ms: int) -> int:
        return (at_ms - self.origin_ms) // DAY_MS

    def format(self, at_ms: int) -> str:
        day, second = divmod((at_ms - self.origin_ms) // SECOND_MS, 86_400)
        return self._dates[day] + self._times[second]

    def daytime(self, rng: random.Random, day: int) -> int:
        """A random instant between 09:00 and 22:00 local on `day` (never before the first day)."""
        return self.day_start(max(day, 0)) + whole_seconds_between(rng, *DAYTIME_MS)

    def add_months(self, day: int, months: int) -> int:
        """The same day of month `months` later (clamped to the 28th), as a day index."""
        due = self.first_day + timedelta(days=day)
        month_index = due.month - 1 + months
        later = date(due.year + month_index // 12, month_index % 12 + 1, min(due.day, 28))
        return (later - self.first_day).days


def assign_profiles(rng: random.Random, borrowers: int, mix: dict[str, float]) -> list[Profile]:
    """Exact quotas (largest remainder), shuffled: the mix holds even for small populations."""
    total = sum(mix.values())
    shares = {name: borrowers * weight / total for name, weight in mix.items()}
    counts = {name: int(share) for name, share in shares.items()}
    by_remainder = sorted(mix, key=lambda name: (counts[name] - shares[name], name))
    for name in by_remainder[: borrowers - sum(counts.values())]:
        counts[name] += 1
    profiles = [PROFILES[name] for name in mix for _ in range(counts[name])]
    rng.shuffle(profiles)
    return profiles


def build_population(
    rng: random.Random, clock: Clock, borrowers: int, mix: dict[str, float]
) -> list[Borrower]:
    return [
        build_borrower(rng, clock, f"b{index:07d}", profile)
        for index, profile in enumerate(assign_profiles(rng, borrowers, mix))
    ]


def build_borrower(
    rng: random.Random, clock: Clock, borrower_id: str, profile: Profile
) -> Borrower:
    # Due dates fall in the first 40 % of the first month, so collections have time to play out.
    first_due_span = max(1, min(clock.days, 30) * 2 // 5)
    loan_count = rng.choices((1, 2, 3), weights=(70, 25, 5))[0]
    loans = [
        build_loan(rng, clock, f"{borrower_id}-L{n}", rng.randrange(first_due_span), profile)
        for n in range(1, loan_count + 1)
    ]
    onset_ms = None
    if profile.becomes_unreachable:
        first_due = min(loan.installments[0].due_day for loan in loans)
        low, high = profile.onset_after_due_days
        onset_ms = clock.day_start(first_due + rng.randint(low, high))
        onset_ms += whole_seconds_between(rng, 0, DAY_MS)
        onset_ms = min(max(onset_ms, clock.origin_ms), clock.end_ms - 1)
    return Borrower(borrower_id, profile, loans, onset_ms)


def build_loan(
    rng: random.Random, clock: Clock, loan_id: str, first_due: int, profile: Profile
) -> Loan:
    tenor = rng.choice(TENORS_MONTHS)
    principal_cents = rng.randrange(300, 12_000) * 100
    amount = principal_cents // tenor + principal_cents * MONTHLY_FEE_PER_MILLE // 1000
    due_days = [clock.add_months(first_due, k) for k in range(tenor)]
    installments = [
        Installment(loan_id, day, clock.day_start(day + 1), amount)
        for day in due_days
        if day < clock.days
    ]
    for installment in installments:
        plan_payments(rng, clock, installment, profile.repayment)
    return Loan(loan_id, installments)


def plan_payments(
    rng: random.Random, clock: Clock, installment: Installment, repayment: Repayment
) -> None:
    """Fill in when (and how much) the borrower pays, as their profile would."""
    due = installment.due_day
    if repayment is Repayment.NEVER:
        return
    if repayment is Repayment.EARLY:
        day = due - rng.randint(0, 3) if rng.random() < 0.95 else due + rng.randint(1, 2)
    elif repayment is Repayment.LATE:
        day = due if rng.random() < 0.35 else due + rng.randint(1, 7)
    elif rng.random() < 0.2:  # PARTIAL, on a good month
        day = due
    else:
        plan_partial_payments(rng, clock, installment)
        return
    at_ms = clock.daytime(rng, day)
    installment.payments.append((at_ms, installment.amount_cents))
    installment.paid_ms = at_ms


def plan_partial_payments(rng: random.Random, clock: Clock, installment: Installment) -> None:
    """Hardship: a fifth to a half of the balance every few days, sometimes the rest at once."""
    remaining = installment.amount_cents
    day = installment.due_day + rng.randint(2, 6)
    while day < clock.days and remaining > 0:
        settle = rng.random() < 0.25
        cents = remaining if settle else max(1, remaining * rng.randint(20, 50) // 100)
        at_ms = clock.daytime(rng, day)
        installment.payments.append((at_ms, cents))
        remaining -= cents
        if remaining == 0:
            installment.paid_ms = at_ms
        day += rng.randint(4, 9)


class LedgerEntry(NamedTuple):
    at_ms: int
    type: str  # due | payment | missed
    loan: Loan
    cents: int


def ledger(rng: random.Random, clock: Clock, borrower: Borrower) -> list[LedgerEntry]:
    """The borrower's repayment events inside the simulated period, in time order.

    The ledger's nightly batch posts `due` and `missed` in the first half hour of a day.
    """
    entries: list[LedgerEntry] = []
    for loan in borrower.loans:
        for installment in loan.installments:
            due_at = clock.day_start(installment.due_day)
            due_at += whole_seconds_between(rng, 0, LEDGER_BATCH_MS)
            entries.append(LedgerEntry(due_at, "due", loan, installment.amount_cents))
            missed_at = installment.due_end_ms + whole_seconds_between(rng, 0, LEDGER_BATCH_MS)
            if installment.overdue_days(missed_at):
                outstanding = installment.outstanding_cents(missed_at)
                entries.append(LedgerEntry(missed_at, "missed", loan, outstanding))
            entries.extend(LedgerEntry(at, "payment", loan, c) for at, c in installment.payments)
    return sorted((entry for entry in entries if entry.at_ms < clock.end_ms), key=lambda e: e.at_ms)
