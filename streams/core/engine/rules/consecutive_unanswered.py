"""consecutive_unanswered: the borrower's own attempts in a row without contact.

The rule follows `BorrowerState.run` (exact, not windowed): it is open while the run is at or
above the first level, escalates when the run reaches a higher level, and resolves when a contact
breaks the run below the first level. With in-order events that is "resolves on any contact"; a
late contact only resolves the episode if it really splits the run below the threshold.
The level never drops inside an episode. What counts as a contact (`reached_outcomes`) and what
as unanswered (`unanswered_outcomes`) is configured; other outcomes neither extend nor end a run.
An episode opened under another config (a reload, or a restart with changed levels) keeps its
level index, clamped to the levels there are now.
"""

from __future__ import annotations

from streams.core.config import ConsecutiveUnansweredConfig
from streams.core.engine.alert import format_time
from streams.core.engine.rules.base import Evaluation, Rule, contact_phrase, evidence
from streams.core.engine.state import RUN_ENDS, RUN_EXTENDS, Episode, Kind, channels_used, run_steps


class ConsecutiveUnanswered(Rule):
    name = "consecutive_unanswered"
    __slots__ = ("_first", "_levels", "_steps")

    def __init__(self, config: ConsecutiveUnansweredConfig) -> None:
        self._levels = tuple(sorted(config.levels, key=lambda level: level.at))
        self._first = self._levels[0].at if self._levels else 1 << 62
        self._steps = run_steps(config.reached_outcomes, config.unanswered_outcomes)

    def reacts_to(self, kind: Kind) -> bool:
        return kind.own

    def severity_of(self, episode: Episode) -> str:
        return self._levels[min(episode.level, len(self._levels) - 1)].severity

    def actions(self, ev: Evaluation, episode: Episode) -> tuple[str, ...]:
        return ("switch_channel",)

    def evaluate(self, ev: Evaluation) -> None:
        attempt = ev.attempt
        run = ev.state.run
        episode = ev.state.episodes.get(self.name)
        if run < self._first and episode is None:
            return
        level = -1
        for index, candidate in enumerate(self._levels):
            if run >= candidate.at:
                level = index
        if level < 0:
            if episode is not None:
                threshold = self._levels[0].at
                before = ev.run_before
                reason = (
                    f"Contact ({contact_phrase(attempt)}) ended a run of {before} attempts "
                    f"without contact (threshold {threshold})"
                    if self._steps[ev.kind.index] == RUN_ENDS
                    else f"The run of {run} attempts without contact is below the threshold "
                    f"({threshold}) now in force"
                )
                counts = {"run_before": before, "run": run}
                proof = evidence(counts, None, ev.now_ms, [attempt.event_id])
                self.close(ev, self.name, reason, proof)
        elif episode is None or level > episode.level:
            key = episode.key if episode else attempt.event_id
            opened = Episode(key, level, episode.opened_ms if episode else attempt.at_ms)
            indices = self._run_indices(ev)
            reason = self._reason(ev, level, indices)
            proof = self._evidence(ev, indices)
            self.open(ev, self.name, opened, reason, proof, previous=episode)

    def _run_indices(self, ev: Evaluation) -> list[int]:
        """Buffer indices of the current run (the buffer may hold only its newest part)."""
        kinds, steps = ev.state.kinds, self._steps
        indices: list[int] = []
        for i in range(len(kinds) - 1, -1, -1):
            step = steps[kinds[i].index]
            if step == RUN_ENDS:
                break
            if step == RUN_EXTENDS:
                indices.append(i)
        indices.reverse()
        return indices

    def _reason(self, ev: Evaluation, level: int, indices: list[int]) -> str:
        state = ev.state
        kinds = state.kinds
        used = channels_used(sum(kinds[i].tally for i in indices))
        channels = ", ".join(used)
        since = "" if state.run_start_ms is None else f" since {format_time(state.run_start_ms)}"
        return (
            f"{state.run} attempts in a row without contact (threshold {self._levels[level].at}) "
            f"across {channels}{since}"
        )

    def _evidence(self, ev: Evaluation, indices: list[int]) -> dict[str, object]:
        state = ev.state
        counts: dict[str, int] = {"run": state.run}
        for i in indices:
            outcome = state.kinds[i].outcome
            counts[outcome] = counts.get(outcome, 0) + 1
        return evidence(counts, state.run_start_ms, ev.now_ms, ev.state.cited_ids(indices))
