"""all_channels_failed (失联): every channel tried, none reached.

Raised when, in [now - window, now], the borrower's own attempts used at least `min_channels`
distinct channels and none reached the borrower (`reached_outcomes`, contacts by default).
`last_contact_ms` rejects most borrowers without a scan when everything that ends the unanswered
run also counts as reached here. Critical. Resolved by an own attempt that reached the borrower
at or after the opening attempt; like avoidance, the episode does not end merely because the
window slides. Recommends calling the emergency contact
only while the third-party gate is open.
"""

from __future__ import annotations

from streams.core.config import AllChannelsFailedConfig, ConsecutiveUnansweredConfig
from streams.core.engine.rules.base import (
    Evaluation,
    Rule,
    contact_phrase,
    duration_label,
    evidence,
)
from streams.core.engine.state import (
    Episode,
    Kind,
    channels_used,
    own_outcome_flags,
    window_tally,
)


class AllChannelsFailed(Rule):
    name = "all_channels_failed"
    severity = "critical"
    __slots__ = ("_config", "_last_contact_rejects", "_reached")

    def __init__(self, config: AllChannelsFailedConfig, run: ConsecutiveUnansweredConfig) -> None:
        self._config = config
        self._reached = own_outcome_flags(config.reached_outcomes)
        # `last_contact_ms` is the newest attempt that ended the run: it proves a reach here only
        # if every outcome that ends the run is one of this rule's reached outcomes.
        self._last_contact_rejects = set(run.reached_outcomes) <= set(config.reached_outcomes)

    def reacts_to(self, kind: Kind) -> bool:
        return kind.own

    def actions(self, ev: Evaluation, episode: Episode) -> tuple[str, ...]:
        if ev.third_party_gate_open():
            return ("contact_emergency_contact", "escalate_collection")
        return ("escalate_collection",)

    def evaluate(self, ev: Evaluation) -> None:
        attempt, kind = ev.attempt, ev.kind
        state = ev.state
        episode = state.episodes.get(self.name)
        if episode is not None:
            if self._reached[kind.index] and attempt.at_ms >= episode.opened_ms:
                reason = f"Borrower reached ({contact_phrase(attempt)}) after all channels failed"
                self.close(ev, self.name, reason, evidence({}, None, ev.now_ms, [attempt.event_id]))
            return
        window_ms = self._config.window_ms
        since = ev.now_ms - window_ms
        last_contact = state.last_contact_ms
        if self._last_contact_rejects and last_contact is not None and last_contact >= since:
            return
        kinds = state.kinds
        first = ev.window_start(window_ms)
        used = channels_used(window_tally(kinds, first))
        if len(used) < self._config.min_channels:
            return
        reached = self._reached
        if any(reached[kinds[i].index] for i in range(first, len(kinds))):
            return
        tried = [i for i in range(first, len(kinds)) if kinds[i].own]
        reason = (
            f"{len(used)} channels tried ({', '.join(used)}) in {len(tried)} attempts in "
            f"{duration_label(window_ms)}, none reached (threshold {self._config.min_channels})"
        )
        proof = evidence(
            {"channels": len(used), "attempts": len(tried), "contacts": 0},
            since,
            ev.now_ms,
            ev.state.cited_ids(tried),
        )
        self.open(ev, self.name, Episode(attempt.event_id, 0, attempt.at_ms), reason, proof)
