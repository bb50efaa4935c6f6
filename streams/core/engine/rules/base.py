"""The one shape every rule has, and the per-event context rules read and emit through.

A rule is a small state machine per borrower (idle → raised → escalated → resolved → idle) whose
only memory is its `Episode` in `BorrowerState.episodes`, under the rule's slot. `Rule.evaluate`
runs once per applied event that can change it (call attempts of a kind it `reacts_to`;
repayments only for `on_repayments` rules), after the event has been placed in the state; it
emits an alert only when it changes its episode, which is what makes "never repeatedly while
nothing changes" hold by construction.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import ClassVar

from streams.core.config import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, EngineConfig
from streams.core.engine.alert import UNREACHABILITY, Alert, format_time
from streams.core.engine.state import BorrowerState, Episode, Kind
from streams.core.events import CallAttempt, Repayment

RAISED = "raised"
ESCALATED = "escalated"
RESOLVED = "resolved"


class Evaluation:
    """One applied event: the updated state, the event, and the alerts it has caused so far.

    `attempt` is the call attempt, `kind` what it means to the rules and `position` its index in
    the buffer; for a repayment all three are unset (None, -1), and only `on_repayments` rules see
    it, so the others read them without checks. `now_ms` is the borrower's event-time clock (the
    newest event time): windows end there, so a late event re-evaluates the state as it stands,
    not as it stood back then.
    """

    __slots__ = (
        "alerts",
        "attempt",
        "config",
        "event",
        "kind",
        "now_ms",
        "position",
        "run_before",
        "state",
    )

    def __init__(
        self,
        state: BorrowerState,
        event: CallAttempt | Repayment,
        kind: Kind | None,
        position: int,
        config: EngineConfig,
        *,
        run_before: int,
    ) -> None:
        self.state = state
        self.event = event
        self.attempt: CallAttempt = event if kind else None  # type: ignore[assignment]
        self.kind: Kind = kind  # type: ignore[assignment]
        self.position = position
        self.config = config
        self.run_before = run_before  # the run of no-contact attempts before this event
        self.now_ms: int = state.newest_ms  # type: ignore[assignment]  # set by apply
        self.alerts: list[Alert] = []

    def window_start(self, window_ms: int) -> int:
        """Index of the first attempt inside the inclusive window [now - window, now]."""
        return bisect_left(self.state.times, self.now_ms - window_ms)

    def third_party_gate_open(self) -> bool:
        """Emergency contacts may be called once the borrower's own contact data has failed."""
        state = self.state
        return state.gate_run() >= self.config.third_party_gate.min_consecutive_failed or any(
            slot.startswith(CONTACT_INFO_INVALID_SLOT) for slot in state.episodes
        )


CONTACT_INFO_INVALID_SLOT = "contact_info_invalid"


class Rule:
    """Base of the seven rules: a name, a category, and `evaluate` (see the module docstring)."""

    name: ClassVar[str]
    category: ClassVar[str] = UNREACHABILITY
    severity: ClassVar[str] = "warning"
    on_repayments: ClassVar[bool] = False  # whether repayment events can change this rule

    __slots__ = ()

    def reacts_to(self, kind: Kind) -> bool:
        """Whether a call attempt of `kind` can change this rule. Compiled once per config into
        a rule list per kind, so `evaluate` is not even called for attempts the rule ignores."""
        return True

    def evaluate(self, ev: Evaluation) -> None:
        raise NotImplementedError

    def severity_of(self, episode: Episode) -> str:
        return self.severity

    def actions(self, ev: Evaluation, episode: Episode) -> tuple[str, ...]:
        return ()

    def open(
        self,
        ev: Evaluation,
        slot: str,
        episode: Episode,
        reason: str,
        evidence: dict[str, object],
        *,
        previous: Episode | None = None,
    ) -> None:
        """Raise a new episode, or escalate `previous` to `episode`'s higher level."""
        ev.state.episodes[slot] = episode
        self.emit(ev, ESCALATED if previous else RAISED, episode, reason, evidence)

    def close(self, ev: Evaluation, slot: str, reason: str, evidence: dict[str, object]) -> None:
        episode = ev.state.episodes.pop(slot)
        self.emit(ev, RESOLVED, episode, reason, evidence)

    def emit(
        self,
        ev: Evaluation,
        transition: str,
        episode: Episode,
        reason: str,
        evidence: dict[str, object],
    ) -> None:
        """Build the alert; resolved alerts recommend nothing (there is nothing left to do)."""
        state = ev.state
        days_past_due = state.max_days_past_due()
        ev.alerts.append(
            Alert(
                borrower_id=ev.event.borrower_id,
                rule=self.name,
                category=self.category,
                state=transition,
                severity=self.severity_of(episode),
                reason=reason,
                episode_key=episode.key,
                event_time_ms=ev.event.at_ms,
                config_version=ev.config.version,
                recommended_actions=() if transition == RESOLVED else self.actions(ev, episode),
                evidence=evidence,
                loan_ids=state.overdue_loan_ids(1) if days_past_due else (),
                days_past_due=days_past_due,
            )
        )


def evidence(
    counts: dict[str, int],
    window_start_ms: int | None,
    window_end_ms: int,
    event_ids: list[str],
    contact_point: str | None = None,
) -> dict[str, object]:
    """`window_start_ms` None (a resolution, or a rule without a window) leaves `window_start`
    out: alert.v1 allows it absent but not null. `contact_point` goes in as the producer sent
    it, for alerts about one contact point: downstream needs it to refresh that contact (the
    reason only shows it masked)."""
    proof: dict[str, object] = {"counts": counts}
    if window_start_ms is not None:
        proof["window_start"] = format_time(window_start_ms)
    proof["window_end"] = format_time(window_end_ms)
    proof["event_ids"] = event_ids
    if contact_point is not None:
        proof["contact_point"] = contact_point
    return proof


def duration_label(ms: int) -> str:
    """72h, 7d, 90m: the way the config file spells durations."""
    for unit, suffix in ((DAY_MS, "d"), (HOUR_MS, "h"), (MINUTE_MS, "m"), (SECOND_MS, "s")):
        if ms % unit == 0:
            return f"{ms // unit}{suffix}"
    return f"{ms}ms"


def contact_phrase(attempt: CallAttempt) -> str:
    return f"{attempt.outcome} via {attempt.channel}"
