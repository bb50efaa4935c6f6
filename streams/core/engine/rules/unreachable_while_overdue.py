"""unreachable_while_overdue: an unreachability episode is open while a loan is overdue.

Derived from the other rules' episodes and the loans' days past due, so it runs after them and on
repayment events too. Open exactly while both hold; critical; resolves when either ends (a payment
bringing every loan below `min_days_past_due`, or the last unreachability episode resolving).
"""

from __future__ import annotations

from streams.core.config import UnreachableWhileOverdueConfig
from streams.core.engine.rules.base import Evaluation, Rule, evidence
from streams.core.engine.state import Episode


class UnreachableWhileOverdue(Rule):
    name = "unreachable_while_overdue"
    severity = "critical"
    on_repayments = True
    __slots__ = ("_config",)

    def __init__(self, config: UnreachableWhileOverdueConfig) -> None:
        self._config = config

    def actions(self, ev: Evaluation, episode: Episode) -> tuple[str, ...]:
        return ("escalate_collection",)

    def evaluate(self, ev: Evaluation) -> None:
        state = ev.state
        episodes = state.episodes
        episode = episodes.get(self.name)
        unreachable = len(episodes) > (episode is not None)
        if not unreachable and episode is None:
            return
        threshold = self._config.min_days_past_due
        dpd = state.max_days_past_due()
        overdue = dpd is not None and dpd >= threshold
        if (unreachable and overdue) == (episode is not None):
            return
        self._transition(ev, episode, threshold)

    def _transition(self, ev: Evaluation, episode: Episode | None, threshold: int) -> None:
        state = ev.state
        unreachable = sorted({slot.split("@")[0] for slot in state.episodes if slot != self.name})
        overdue = state.overdue_loan_ids(threshold)
        dpd = state.max_days_past_due()
        dpd = 0 if dpd is None else dpd
        counts = {"open_rules": len(unreachable), "overdue_loans": len(overdue), "max_dpd": dpd}
        proof = evidence(counts, None, ev.now_ms, [ev.event.event_id])
        if episode is None:
            reason = (
                f"{', '.join(unreachable)} open while {len(overdue)} loan(s) "
                f"({', '.join(overdue)}) are up to {dpd} days past due (threshold {threshold})"
            )
            episode = Episode(ev.event.event_id, 0, ev.event.at_ms)
            self.open(ev, self.name, episode, reason, proof)
        elif unreachable:
            reason = f"No loan {threshold} or more days past due any more (max {dpd})"
            self.close(ev, self.name, reason, proof)
        else:
            self.close(ev, self.name, "No unreachability rule open any more", proof)
