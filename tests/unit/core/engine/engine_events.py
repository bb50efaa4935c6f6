"""Event builders and a small driver shared by the engine tests (imported, not collected)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from streams.core.config import HOUR_MS, MINUTE_MS, RULE_NAMES, EngineConfig, RulesConfig
from streams.core.engine import Alert, BorrowerState, Disposition, apply
from streams.core.events import CallAttempt, Repayment

BORROWER = "b-1"
# 2026-11-27T02:00:00Z = 10:00 in Asia/Shanghai: well outside quiet hours.
T0 = 1_795_744_800_000
DEFAULT = EngineConfig()


def at(hours: float = 0, minutes: float = 0) -> int:
    return T0 + int(hours * HOUR_MS + minutes * MINUTE_MS)


def call(
    event_id: str,
    at_ms: int,
    outcome: str = "no_answer",
    *,
    channel: str = "voice",
    contact_point: str = "primary",
    borrower_tz: str | None = None,
) -> CallAttempt:
    return CallAttempt(
        event_id=event_id,
        borrower_id=BORROWER,
        at_ms=at_ms,
        channel=channel,
        outcome=outcome,
        contact_point=contact_point,
        borrower_tz=borrower_tz,
    )


def payment(
    event_id: str, at_ms: int, days_past_due: int, loan_id: str = "L1", kind: str = "missed"
) -> Repayment:
    return Repayment(
        event_id=event_id,
        borrower_id=BORROWER,
        loan_id=loan_id,
        at_ms=at_ms,
        type=kind,
        amount="100.00",
        days_past_due=days_past_due,
    )


def only(**rules: object) -> EngineConfig:
    """A config where only the named rules are enabled (others off), with optional overrides."""
    base = RulesConfig()
    changes = {name: replace(getattr(base, name), enabled=name in rules) for name in RULE_NAMES}
    for name, override in rules.items():
        if override is not None:
            changes[name] = override
    return replace(DEFAULT, rules=replace(base, **changes))


class Run:
    """Feeds events through `apply`, collecting alerts and dispositions per event."""

    def __init__(self, config: EngineConfig = DEFAULT) -> None:
        self.config = config
        self.state: BorrowerState | None = None
        self.alerts: list[Alert] = []
        self.dispositions: list[Disposition] = []

    def feed(self, *events: CallAttempt | Repayment) -> list[Alert]:
        emitted: list[Alert] = []
        for event in events:
            outcome = apply(self.state, event, self.config)
            self.state = outcome.state
            self.dispositions.append(outcome.disposition)
            emitted.extend(outcome.alerts)
        self.alerts.extend(emitted)
        return emitted

    def feed_all(self, events: Iterable[CallAttempt | Repayment]) -> list[Alert]:
        return self.feed(*events)


def transitions(alerts: Iterable[Alert]) -> list[tuple[str, str, str]]:
    return [(alert.rule, alert.state, alert.severity) for alert in alerts]
