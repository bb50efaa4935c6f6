"""contact_info_invalid: a contact point's data is stale (suspended number, bounced e-mail...).

One episode per own contact point (slot `contact_info_invalid@<point>`, key
`<opening event_id>@<masked point>`: reasons and episode ids show a phone number or e-mail
address masked, the evidence carries it as sent; see `streams.core.personal_data`).
Raised when an invalid outcome on that point brings the invalid outcomes on it in
[now - window, now] to `min_invalid`, or when the window holds an outcome that is conclusive on
its own (`immediate_outcomes`). Resolved by an own contact on that same point at or after the
opening attempt: the data evidently works again.
"""

from __future__ import annotations

from streams.core.config import ContactInfoInvalidConfig
from streams.core.engine.rules.base import (
    CONTACT_INFO_INVALID_SLOT,
    Evaluation,
    Rule,
    contact_phrase,
    duration_label,
    evidence,
)
from streams.core.engine.state import CONTACT, INVALID, Episode, Kind
from streams.core.events import CallAttempt
from streams.core.personal_data import mask_contact_point

_RELEVANT = frozenset((CONTACT, INVALID))


class ContactInfoInvalid(Rule):
    name = CONTACT_INFO_INVALID_SLOT
    __slots__ = ("_config", "_immediate")

    def __init__(self, config: ContactInfoInvalidConfig) -> None:
        self._config = config
        self._immediate = frozenset(config.immediate_outcomes)

    def reacts_to(self, kind: Kind) -> bool:
        return kind.own and kind.cls in _RELEVANT

    def actions(self, ev: Evaluation, episode: Episode) -> tuple[str, ...]:
        return ("refresh_contact_info",)

    def evaluate(self, ev: Evaluation) -> None:
        attempt, kind = ev.attempt, ev.kind
        slot = f"{CONTACT_INFO_INVALID_SLOT}@{attempt.contact_point}"
        episode = ev.state.episodes.get(slot)
        if episode is None and kind.cls == INVALID:
            self._maybe_raise(ev, attempt, slot)
        elif episode is not None and kind.cls == CONTACT and attempt.at_ms >= episode.opened_ms:
            point = attempt.contact_point
            shown = mask_contact_point(point)
            reason = f"Contact on {shown} ({contact_phrase(attempt)}) works again"
            proof = evidence({}, None, ev.now_ms, [attempt.event_id], contact_point=point)
            self.close(ev, slot, reason, proof)

    def _maybe_raise(self, ev: Evaluation, attempt: CallAttempt, slot: str) -> None:
        config = self._config
        kinds, points = ev.state.kinds, ev.state.points
        point = attempt.contact_point
        hits = [
            i
            for i in range(ev.window_start(config.window_ms), len(kinds))
            if kinds[i].cls == INVALID and points[i] == point
        ]
        conclusive = [kinds[i].outcome for i in hits if kinds[i].outcome in self._immediate]
        if len(hits) < config.min_invalid and not conclusive:
            return
        window = duration_label(config.window_ms)
        shown = mask_contact_point(point)
        if conclusive:
            reason = f"{conclusive[-1]} on {shown}, conclusive on its own"
        else:
            outcomes = ", ".join(sorted({kinds[i].outcome for i in hits}))
            reason = (
                f"{len(hits)} invalid outcomes ({outcomes}) on {shown} in {window} "
                f"(threshold {config.min_invalid})"
            )
        proof = evidence(
            {"invalid": len(hits), "conclusive": len(conclusive)},
            ev.now_ms - config.window_ms,
            ev.now_ms,
            ev.state.cited_ids(hits),
            contact_point=point,
        )
        episode = Episode(f"{attempt.event_id}@{shown}", 0, attempt.at_ms)
        self.open(ev, slot, episode, reason, proof)
