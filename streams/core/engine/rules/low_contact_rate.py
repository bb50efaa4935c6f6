"""low_contact_rate: too few contacts among the borrower's own attempts in a sliding window.

Open exactly while the condition holds at the borrower's event-time clock: at least
`min_attempts` own attempts in [now - window, now] and contacts / attempts ≤ `max_contact_rate`
(compared as a division, so a rate exactly at the threshold counts as low). Resolves at the first
own attempt at which the condition no longer holds, whether through contacts or because attempts
slid out of the window.
"""

from __future__ import annotations

from streams.core.config import LowContactRateConfig
from streams.core.engine.rules.base import Evaluation, Rule, duration_label, evidence
from streams.core.engine.state import (
    CONTACT_FIELD,
    OWN_FIELD,
    Episode,
    Kind,
    tally_count,
    window_tally,
)


class LowContactRate(Rule):
    name = "low_contact_rate"
    __slots__ = ("_config",)

    def __init__(self, config: LowContactRateConfig) -> None:
        self._config = config

    def reacts_to(self, kind: Kind) -> bool:
        return kind.own

    def actions(self, ev: Evaluation, episode: Episode) -> tuple[str, ...]:
        return ("switch_channel",)

    def evaluate(self, ev: Evaluation) -> None:
        config = self._config
        kinds = ev.state.kinds
        first = ev.window_start(config.window_ms)
        episode = ev.state.episodes.get(self.name)
        if episode is None and len(kinds) - first < config.min_attempts:
            return
        tally = window_tally(kinds, first)
        tried = tally_count(tally, OWN_FIELD)
        contacts = tally_count(tally, CONTACT_FIELD)
        low = tried >= config.min_attempts and contacts / tried <= config.max_contact_rate
        if low == (episode is not None):
            return
        rate = f"{contacts / tried:.1%}" if tried else "n/a"
        numbers = (
            f"{contacts} contacts in {tried} attempts in {duration_label(config.window_ms)} "
            f"(rate {rate}, threshold ≤ {config.max_contact_rate:.0%} "
            f"with ≥ {config.min_attempts} attempts)"
        )
        own = [i for i in range(first, len(kinds)) if kinds[i].own]
        proof = evidence(
            {"attempts": tried, "contacts": contacts},
            ev.now_ms - config.window_ms,
            ev.now_ms,
            ev.state.cited_ids(own),
        )
        if low:
            episode = Episode(ev.attempt.event_id, 0, ev.attempt.at_ms)
            self.open(ev, self.name, episode, f"Only {numbers}", proof)
        else:
            self.close(ev, self.name, f"Contact rate no longer low: {numbers}", proof)
