"""contact_policy (compliance): attempts that break the contact policy, in borrower-local time.

Four violation kinds, checked on every call attempt (including emergency-contact attempts):
`quiet_hours` (attempt at a local minute in [quiet_start, quiet_end), wrapping midnight; equal
bounds mean no quiet hours), `unanswered_per_contact_point` (more than the limit of unanswered
attempts on one contact point in a local day), `contacts_per_day` (more than the limit of
right-party contacts in a local day; emergency-contact answers are not right-party contacts), and
`third_party_gate_closed` (an emergency-contact attempt while the gate is closed), and, when
`max_calls_per_window` is set (the US preset: Regulation F's 7 calls in 7 days),
`call_frequency` (more than that many voice calls to the borrower's own contact points in the
`calls_window` ending at the call, any outcome).

Violations never resolve: one `raised` per borrower, kind and local day of the offending
attempt, with episode key `<kind>@<local date>`, so the alert id is the same for the same day
however it is reached. `BorrowerState.policy_fired` remembers what already fired and is pruned to
the days a non-late event can still fall on. The zone is the event's `borrower_tz`, else the last
one seen for the borrower, else `default_timezone`.
"""

from __future__ import annotations

from bisect import bisect_left
from zoneinfo import ZoneInfo

from streams.core.config import DAY_MS, HOUR_MS, ContactPolicyConfig
from streams.core.engine.alert import COMPLIANCE
from streams.core.engine.localtime import (
    day_bounds,
    day_label,
    local_day,
    local_day_and_minute,
    zone_for,
)
from streams.core.engine.rules.base import RAISED, Evaluation, Rule, evidence
from streams.core.engine.state import CONTACT, CONTACT_FIELD, Episode, tally_count, window_tally
from streams.core.personal_data import mask_contact_point

QUIET_HOURS = "quiet_hours"
UNANSWERED_PER_CONTACT_POINT = "unanswered_per_contact_point"
CONTACTS_PER_DAY = "contacts_per_day"
THIRD_PARTY_GATE_CLOSED = "third_party_gate_closed"
CALL_FREQUENCY = "call_frequency"

SAME_DAY_REACH_MS = DAY_MS + 4 * HOUR_MS  # a local day starts at most this long before an attempt


class ContactPolicy(Rule):
    name = "contact_policy"
    category = COMPLIANCE
    __slots__ = ("_config", "_default_zone", "_grace_days")

    def __init__(self, config: ContactPolicyConfig, default_zone: str, grace_ms: int) -> None:
        self._config = config
        self._default_zone = default_zone
        self._grace_days = grace_ms // DAY_MS

    def actions(self, ev: Evaluation, episode: Episode) -> tuple[str, ...]:
        return ("pause_contact",)

    def evaluate(self, ev: Evaluation) -> None:
        attempt, kind = ev.attempt, ev.kind
        config = self._config
        zone = zone_for(ev.state.timezone, self._default_zone)
        day, minute = local_day_and_minute(zone, attempt.at_ms)
        start, end = config.quiet_start_minute, config.quiet_end_minute
        quiet = start <= minute < end if start <= end else minute >= start or minute < end
        if quiet:
            hhmm = f"{minute // 60:02d}:{minute % 60:02d}"
            reason = (
                f"Attempt at {hhmm} local time ({zone.key}) within quiet hours "
                f"{start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}"
            )
            self._fire(
                ev,
                zone=zone,
                kind=QUIET_HOURS,
                day=day,
                reason=reason,
                counts={"attempts": 1},
                indices=[ev.position],
            )
        if kind.cls != CONTACT:
            self._check_daily(ev, zone, day, UNANSWERED_PER_CONTACT_POINT)
        elif kind.own:
            self._check_daily(ev, zone, day, CONTACTS_PER_DAY)
        if config.max_calls_per_window is not None and kind.own and attempt.channel == "voice":
            self._check_call_frequency(ev, zone, day, config.max_calls_per_window)
        if not kind.own and not ev.third_party_gate_open():
            limit = ev.config.third_party_gate.min_consecutive_failed
            reason = (
                f"Emergency contact attempted while the third-party gate is closed "
                f"({ev.state.gate_run()} own attempts in a row without contact, gate opens at "
                f"{limit}; "
                f"no contact point known invalid)"
            )
            self._fire(
                ev,
                zone=zone,
                kind=THIRD_PARTY_GATE_CLOSED,
                day=day,
                reason=reason,
                counts={"run": ev.state.gate_run()},
                indices=[ev.position],
            )

    def _check_call_frequency(self, ev: Evaluation, zone: ZoneInfo, day: int, limit: int) -> None:
        """Own voice calls in the inclusive window [call - calls_window, call]."""
        kinds = ev.state.kinds
        window_ms = self._config.calls_window_ms
        first = bisect_left(ev.state.times, ev.attempt.at_ms - window_ms)
        if ev.position + 1 - first <= limit:
            return  # too few attempts of any kind
        hits = [i for i in range(first, ev.position + 1)
                if kinds[i].own and kinds[i].channel == "voice"]  # fmt: skip
        if len(hits) > limit:
            days = window_ms // DAY_MS
            reason = f"{len(hits)} calls to the borrower in {days} days (limit {limit})"
            counts = {"calls": len(hits)}
            self._fire(
                ev, zone=zone, kind=CALL_FREQUENCY, day=day, reason=reason, counts=counts,
                indices=hits,
            )  # fmt: skip

    def _check_daily(self, ev: Evaluation, zone: ZoneInfo, day: int, kind: str) -> None:
        """Count the attempt's local day against the daily limit of `kind`. The day lies within
        SAME_DAY_REACH_MS before the attempt, so most days are shown to hold too few attempts (or
        own contacts) by one bisection and a tally, without computing the day's bounds."""
        state = ev.state
        times, kinds = state.times, state.kinds
        attempt = ev.attempt
        config = self._config
        reach = bisect_left(times, attempt.at_ms - SAME_DAY_REACH_MS)
        if kind == CONTACTS_PER_DAY:
            limit = config.max_contacts_per_day
            reachable = tally_count(window_tally(kinds, reach), CONTACT_FIELD)
        else:
            limit = config.max_unanswered_per_contact_point_per_day
            reachable = len(times) - reach
        if reachable <= limit or (kind, day) in state.policy_fired:
            return
        start, end = day_bounds(zone, day)
        first = bisect_left(times, start)
        end = bisect_left(times, end, lo=first)
        point: str | None = attempt.contact_point
        if kind == CONTACTS_PER_DAY:
            hits = [i for i in range(first, end) if kinds[i].cls == CONTACT and kinds[i].own]
            what = "right-party contacts"
            point = None
        else:
            points = state.points
            hits = [i for i in range(first, end) if kinds[i].cls != CONTACT and points[i] == point]
            what = f"unanswered attempts on {mask_contact_point(attempt.contact_point)}"
        if len(hits) > limit:
            reason = f"{len(hits)} {what} on local day {day_label(day)} (limit {limit})"
            counts = {"attempts": len(hits)}
            self._fire(ev, zone=zone, kind=kind, day=day, reason=reason, counts=counts,
                       indices=hits, contact_point=point)  # fmt: skip

    def _fire(
        self,
        ev: Evaluation,
        *,
        zone: ZoneInfo,
        kind: str,
        day: int,
        reason: str,
        counts: dict[str, int],
        indices: list[int],
        contact_point: str | None = None,
    ) -> None:
        fired = ev.state.policy_fired
        if (kind, day) in fired:
            return
        oldest_open_day = local_day(zone, ev.now_ms) - self._grace_days - 1
        for stale in [entry for entry in fired if entry[1] < oldest_open_day]:
            fired.discard(stale)
        fired.add((kind, day))
        at_ms = ev.state.times[ev.position]
        first_ms = ev.state.times[indices[0]]
        proof = evidence(counts, first_ms, at_ms, ev.state.cited_ids(indices), contact_point)
        episode = Episode(f"{kind}@{day_label(day)}", 0, at_ms)
        self.emit(ev, RAISED, episode, reason, proof)
