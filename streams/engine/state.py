"""One borrower's state: what the rules need to remember between events, and nothing more.

The state is what the worker writes to the changelog after every event, so its size and its
(de)serialisation cost are on the hot path (DESIGN.md section 9). Hence:

* attempts are small tuples in event-time order, bounded by `max_attempts_kept` and by the
  longest window the enabled rules look at (plus `grace`);
* channel and outcome are packed into one character per attempt and times are stored as deltas;
* an attempt's real `event_id` is written out only while something can still need it: for
  de-duplication (the attempt is within `grace` of the newest event; anything older is late
  anyway), for evidence (the last `MAX_EVIDENCE_EVENT_IDS` attempts, and every avoidance or
  invalid outcome, which are rare and are what avoidance/invalid alerts cite). In memory the
  ids stay, but evidence only ever cites ids that survive serialisation (`keeps_id`), so a
  deserialised state behaves exactly like the one it came from.

The encoding is a versioned orjson array (`STATE_VERSION`); `from_bytes` refuses other versions.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, NamedTuple

import orjson

from streams.engine.alert import MAX_EVIDENCE_EVENT_IDS
from streams.events import CHANNELS, EMERGENCY_CONTACT_POINT, OUTCOME_CLASS, OutcomeClass

STATE_VERSION = 1

# Outcome classes as small ints: compared on every attempt of every window scan.
CONTACT, NO_RESPONSE, AVOIDANCE, UNREACHABLE, INVALID = range(5)
_CLASS_CODE: dict[OutcomeClass, int] = {
    OutcomeClass.CONTACT: CONTACT,
    OutcomeClass.NO_RESPONSE: NO_RESPONSE,
    OutcomeClass.AVOIDANCE: AVOIDANCE,
    OutcomeClass.UNREACHABLE: UNREACHABLE,
    OutcomeClass.INVALID: INVALID,
}
OUTCOME_CODE: dict[str, int] = {outcome: _CLASS_CODE[cls] for outcome, cls in OUTCOME_CLASS.items()}
_CITED_CLASSES = frozenset((AVOIDANCE, INVALID))

# The serialised code of an attempt: one character for (channel, outcome). The tables are part of
# the state format: append only, never reorder (a new value needs a new STATE_VERSION otherwise).
_CHANNELS: tuple[str, ...] = CHANNELS
_OUTCOMES: tuple[str, ...] = (
    "answered",
    "replied",
    "no_answer",
    "busy",
    "voicemail",
    "delivered",
    "read",
    "rejected",
    "blocked",
    "powered_off",
    "out_of_coverage",
    "number_suspended",
    "number_invalid",
    "wrong_party",
    "bounced",
    "undeliverable",
)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ENCODE: dict[tuple[str, str], str] = {
    (channel, outcome): _ALPHABET[c * len(_OUTCOMES) + o]
    for c, channel in enumerate(_CHANNELS)
    for o, outcome in enumerate(_OUTCOMES)
}
_DECODE: dict[str, tuple[str, str]] = {code: pair for pair, code in _ENCODE.items()}
assert set(_OUTCOMES) == set(OUTCOME_CLASS), "state format outcome table out of date"

# Episode slots and contact_policy violation kinds are long names; the encoding abbreviates them
# (unknown names pass through unchanged, so a new rule needs no format change).
_SHORT: dict[str, str] = {
    "consecutive_unanswered": "cu",
    "low_contact_rate": "lr",
    "active_avoidance": "aa",
    "contact_info_invalid": "ci",
    "all_channels_failed": "af",
    "unreachable_while_overdue": "uo",
    "quiet_hours": "qh",
    "unanswered_per_contact_point": "up",
    "contacts_per_day": "cd",
    "third_party_gate_closed": "tg",
}
_LONG: dict[str, str] = {short: name for name, short in _SHORT.items()}


def _abbreviate(slot: str, table: dict[str, str]) -> str:
    name, at, point = slot.partition("@")
    return table.get(name, name) + at + point


# A window's counts come from summing per-attempt tallies in C (`window_tally`) instead of a
# Python loop per rule: each tally packs 16-bit counters, so at most 65,535 attempts are kept.
TALLY_BITS = 16
_TALLY_MASK = (1 << TALLY_BITS) - 1
MAX_ATTEMPTS_KEPT = _TALLY_MASK
OWN_FIELD, CONTACT_FIELD, AVOIDANCE_FIELD = 0, 1, 2
_CHANNEL_FIELD = {channel: 3 + i for i, channel in enumerate(CHANNELS)}


def tally_of(cls: int, own: bool, channel: str) -> int:
    """Own attempts only (emergency contacts are left out of every unreachability count)."""
    if not own:
        return 0
    tally = 1 | 1 << (TALLY_BITS * _CHANNEL_FIELD[channel])
    if cls == CONTACT:
        tally |= 1 << (TALLY_BITS * CONTACT_FIELD)
    elif cls == AVOIDANCE:
        tally |= 1 << (TALLY_BITS * AVOIDANCE_FIELD)
    return tally


def tally_count(tally: int, field: int) -> int:
    return (tally >> (TALLY_BITS * field)) & _TALLY_MASK


def channels_used(tally: int) -> list[str]:
    """The channels with at least one own attempt in `tally`, in CHANNELS order."""
    return [channel for channel, field in _CHANNEL_FIELD.items() if tally_count(tally, field)]


class Attempt(NamedTuple):
    """A call attempt as the rules see it; `own` is False for emergency-contact attempts."""

    at_ms: int
    cls: int
    own: bool
    tally: int
    channel: str
    outcome: str
    contact_point: str
    event_id: str


class Episode(NamedTuple):
    """An open rule episode: `key` ties its raised/escalated/resolved alerts together."""

    key: str
    level: int
    opened_ms: int


class Loan(NamedTuple):
    days_past_due: int
    last_type: str
    at_ms: int


_OWN_CLASS_AND_TALLY: dict[tuple[str, str], tuple[int, int]] = {
    (channel, outcome): (cls, tally_of(cls, True, channel))
    for outcome, cls in OUTCOME_CODE.items()
    for channel in CHANNELS
}
_new_attempt = tuple.__new__  # skips NamedTuple's Python-level __new__ on the hot path


def make_attempt(
    at_ms: int, channel: str, outcome: str, contact_point: str, event_id: str
) -> Attempt:
    cls, tally = _OWN_CLASS_AND_TALLY[channel, outcome]  # valid events: known enums only
    if contact_point == EMERGENCY_CONTACT_POINT:
        return _new_attempt(
            Attempt, (at_ms, cls, False, 0, channel, outcome, contact_point, event_id)
        )
    return _new_attempt(
        Attempt, (at_ms, cls, True, tally, channel, outcome, contact_point, event_id)
    )


_tally = itemgetter(3)
attempt_time = itemgetter(0)  # bisect key over the attempt buffer


def window_tally(attempts: list[Attempt], first: int) -> int:
    """The summed tallies of attempts[first:]: all own-attempt counts of a window at once."""
    return sum(map(_tally, attempts[first:]))


class BorrowerState:
    """Everything the engine remembers about one borrower (see the module docstring).

    `run` counts the borrower's own attempts without contact since `last_contact_ms` (the newest
    own contact, ever); it is exact even when the run is longer than the attempt buffer.
    `policy_fired` holds the (violation kind, local day number) pairs contact_policy already
    raised, pruned to the days a non-late event can still fall on.
    """

    __slots__ = (
        "attempts",
        "episodes",
        "id_horizon_ms",
        "last_contact_ms",
        "loans",
        "newest_ms",
        "policy_fired",
        "repayment_ids",
        "run",
        "run_start_ms",
        "timezone",
    )

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.newest_ms: int | None = None
        self.id_horizon_ms: int | None = None  # newest - grace: older attempts cannot be duplicates
        self.run = 0
        self.run_start_ms: int | None = None
        self.last_contact_ms: int | None = None
        self.timezone: str | None = None
        self.loans: dict[str, Loan] = {}
        self.episodes: dict[str, Episode] = {}
        self.policy_fired: set[tuple[str, int]] = set()
        self.repayment_ids: list[tuple[int, str]] = []

    def keeps_id(self, index: int) -> bool:
        """Whether attempt `index` keeps its event_id when serialised (see module docstring)."""
        attempt = self.attempts[index]
        return (
            index >= len(self.attempts) - MAX_EVIDENCE_EVENT_IDS
            or attempt.cls in _CITED_CLASSES
            or (self.id_horizon_ms is not None and attempt.at_ms >= self.id_horizon_ms)
        )

    def to_bytes(self) -> bytes:
        """Compact versioned encoding; ids nobody can need any more are left out."""
        attempts = self.attempts
        deltas: list[int] = []
        previous = self.newest_ms or 0
        for attempt in attempts:
            deltas.append(attempt.at_ms - previous)
            previous = attempt.at_ms
        points: list[str] = []
        point_codes: list[int] | None = None
        if any(attempt.contact_point != "primary" for attempt in attempts):
            index: dict[str, int] = {}
            point_codes = [
                index.setdefault(attempt.contact_point, len(index)) for attempt in attempts
            ]
            points = list(index)
        return orjson.dumps(
            [
                STATE_VERSION,
                self.newest_ms,
                self.id_horizon_ms,
                self.run,
                self.run_start_ms,
                self.last_contact_ms,
                self.timezone,
                deltas,
                "".join([_ENCODE[attempt.channel, attempt.outcome] for attempt in attempts]),
                points,
                point_codes,
                [
                    attempt.event_id if self.keeps_id(i) else ""
                    for i, attempt in enumerate(attempts)
                ],
                {loan_id: list(loan) for loan_id, loan in self.loans.items()},
                {_abbreviate(slot, _SHORT): list(ep) for slot, ep in self.episodes.items()},
                sorted([_SHORT.get(kind, kind), day] for kind, day in self.policy_fired),
                self.repayment_ids,
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> BorrowerState:
        fields: list[Any] = orjson.loads(data)
        if not fields or fields[0] != STATE_VERSION:
            version = fields[0] if fields else None
            raise ValueError(f"BorrowerState version {version!r} is not {STATE_VERSION}")
        (
            _,
            newest_ms,
            id_horizon_ms,
            run,
            run_start_ms,
            last_contact_ms,
            timezone,
            deltas,
            codes,
            points,
            point_codes,
            ids,
            loans,
            episodes,
            fired,
            repayment_ids,
        ) = fields
        state = cls()
        state.newest_ms = newest_ms
        state.id_horizon_ms = id_horizon_ms
        state.run = run
        state.run_start_ms = run_start_ms
        state.last_contact_ms = last_contact_ms
        state.timezone = timezone
        at_ms = newest_ms or 0
        attempts = state.attempts
        for i, delta in enumerate(deltas):
            at_ms += delta
            channel, outcome = _DECODE[codes[i]]
            point = points[point_codes[i]] if point_codes is not None else "primary"
            attempts.append(make_attempt(at_ms, channel, outcome, point, ids[i]))
        state.loans = {loan_id: Loan(*loan) for loan_id, loan in loans.items()}
        state.episodes = {_abbreviate(slot, _LONG): Episode(*ep) for slot, ep in episodes.items()}
        state.policy_fired = {(_LONG.get(kind, kind), day) for kind, day in fired}
        state.repayment_ids = [(at, event_id) for at, event_id in repayment_ids]
        return state
