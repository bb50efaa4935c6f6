"""active_avoidance: the borrower rejects or blocks attempts.

Raised when an own avoidance outcome brings the count of avoidance outcomes in
[now - window, now] to `min_avoidance`; resolved by an own contact at or after the episode's
opening attempt (a late contact from before the avoidance does not end it). Window expiry alone
does not resolve: avoidance ends when the borrower is reached.
"""

from __future__ import annotations

from streams.core.config import ActiveAvoidanceConfig
from streams.core.engine.rules.base import (
    Evaluation,
    Rule,
    contact_phrase,
    duration_label,
    evidence,
)
from streams.core.engine.state import AVOIDANCE, CONTACT, Episode, Kind
from streams.core.events import CallAttempt


class ActiveAvoidance(Rule):
    name = "active_avoidance"
    __slots__ = ("_config",)

    def __init__(self, config: ActiveAvoidanceConfig) -> None:
        self._config = config

    def reacts_to(self, kind: Kind) -> bool:
        return kind.own and kind.cls in (AVOIDANCE, CONTACT)

    def actions(self, ev: Evaluation, episode: Episode) -> tuple[str, ...]:
        return ("switch_channel", "escalate_collection")

    def evaluate(self, ev: Evaluation) -> None:
        attempt, kind = ev.attempt, ev.kind
        episode = ev.state.episodes.get(self.name)
        if episode is None:
            if kind.cls == AVOIDANCE:
                self._maybe_raise(ev, attempt)
        elif kind.cls == CONTACT and attempt.at_ms >= episode.opened_ms:
            reason = f"Borrower reached ({contact_phrase(attempt)}) after active avoidance"
            self.close(ev, self.name, reason, evidence({}, None, ev.now_ms, [attempt.event_id]))

    def _maybe_raise(self, ev: Evaluation, attempt: CallAttempt) -> None:
        config = self._config
        kinds = ev.state.kinds
        first = ev.window_start(config.window_ms)
        hits = [i for i in range(first, len(kinds)) if kinds[i].cls == AVOIDANCE and kinds[i].own]
        if len(hits) < config.min_avoidance:
            return
        counts: dict[str, int] = {"avoidance": len(hits)}
        for i in hits:
            counts[kinds[i].outcome] = counts.get(kinds[i].outcome, 0) + 1
        outcomes = ", ".join(f"{counts[o]} {o}" for o in sorted(counts) if o != "avoidance")
        reason = (
            f"{len(hits)} avoidance outcomes ({outcomes}) in {duration_label(config.window_ms)} "
            f"(threshold {config.min_avoidance})"
        )
        proof = evidence(counts, ev.now_ms - config.window_ms, ev.now_ms, ev.state.cited_ids(hits))
        self.open(ev, self.name, Episode(attempt.event_id, 0, attempt.at_ms), reason, proof)
