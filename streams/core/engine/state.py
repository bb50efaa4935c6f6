"""One borrower's state: what the rules need to remember between events, and nothing more.

The state is what the worker writes to the changelog for every borrower a batch touches, so its
size and its (de)serialisation cost are on the hot path (docs/design.md, "State: format, bounds
and eviction"). Hence:

* attempts are parallel columns in event-time order (a shared `Kind` per channel, outcome and
  party), bounded by `max_attempts_kept` and by the longest window the rules look at (plus
  `grace`);
* channel and outcome are packed into one character per attempt and times are stored as deltas;
* an attempt's real `event_id` is written out only while something can still need it: for
  de-duplication (the attempt is within `grace` of the newest event; anything older is late
  anyway), for evidence (the last `MAX_EVIDENCE_EVENT_IDS` attempts, and every avoidance or
  invalid outcome, which are rare and are what avoidance/invalid alerts cite). In memory the
  ids stay, but evidence only ever cites ids that survive serialisation (`cited_ids`), so a
  deserialised state behaves exactly like the one it came from.

The encoding is a versioned orjson array (`STATE_VERSION`); `from_bytes` refuses other versions.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate, chain
from operator import itemgetter, sub
from typing import Any, NamedTuple

import orjson

from streams.core.engine.alert import MAX_EVIDENCE_EVENT_IDS
from streams.core.events import (
    CHANNELS,
    EMERGENCY_CONTACT_POINT,
    OUTCOME_CLASS,
    PRIMARY_CONTACT_POINT,
    OutcomeClass,
)

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


_CHANNEL_MASKS = tuple(
    (channel, _TALLY_MASK << (TALLY_BITS * field)) for channel, field in _CHANNEL_FIELD.items()
)


def channels_used(tally: int) -> list[str]:
    """The channels with at least one own attempt in `tally`, in CHANNELS order."""
    return [channel for channel, mask in _CHANNEL_MASKS if tally & mask]


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


class Kind(NamedTuple):
    """What an attempt's channel, outcome and party mean to the rules. One shared instance per
    combination, so the buffer holds one reference per attempt instead of five fields, and a
    state decodes with one dict lookup per attempt."""

    cls: int
    own: bool
    tally: int
    channel: str
    outcome: str
    code: str  # the attempt's character in the serialised state
    cited: bool  # avoidance or invalid: its id is kept for evidence however old
    index: int  # type: ignore[assignment]  # position in KINDS (shadows tuple.index)


class Episode(NamedTuple):
    """An open rule episode: `key` ties its raised/escalated/resolved alerts together."""

    key: str
    level: int
    opened_ms: int


class Loan(NamedTuple):
    days_past_due: int
    last_type: str
    at_ms: int


def _kinds(own: bool) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for (channel, outcome), code in _ENCODE.items():
        cls = OUTCOME_CODE[outcome]
        tally = tally_of(cls, own, channel)
        index = len(kinds) + (0 if own else len(_ENCODE))
        kinds[code] = Kind(cls, own, tally, channel, outcome, code, cls in _CITED_CLASSES, index)
    return kinds


_OWN_KINDS = _kinds(own=True)  # by serialised code
_THIRD_PARTY_KINDS = _kinds(own=False)
KINDS: tuple[Kind, ...] = (*_OWN_KINDS.values(), *_THIRD_PARTY_KINDS.values())
_KIND_OF: dict[tuple[str, str, bool], Kind] = {
    (kind.channel, kind.outcome, kind.own): kind for kind in KINDS
}


def own_outcome_flags(outcomes: tuple[str, ...]) -> tuple[bool, ...]:
    """By `Kind.index`: True for the borrower's own attempts with one of `outcomes` (a rule's
    outcome setting compiled once, read with one index per attempt)."""
    wanted = frozenset(outcomes)
    return tuple(kind.own and kind.outcome in wanted for kind in KINDS)


# What an own attempt does to `BorrowerState.run` (see `run_steps`).
RUN_KEEPS, RUN_EXTENDS, RUN_ENDS = range(3)


def run_steps(reached: tuple[str, ...], unanswered: tuple[str, ...]) -> tuple[int, ...]:
    """By `Kind.index`: RUN_ENDS for an own attempt with a reached outcome, RUN_EXTENDS for one
    with an unanswered outcome, RUN_KEEPS otherwise (emergency contacts included)."""
    ends, extends = own_outcome_flags(reached), own_outcome_flags(unanswered)
    return tuple(
        RUN_ENDS if end else RUN_EXTENDS if extend else RUN_KEEPS
        for end, extend in zip(ends, extends, strict=True)
    )


CONTACT_RUN_STEPS = run_steps(
    tuple(o for o, code in OUTCOME_CODE.items() if code == CONTACT),
    tuple(o for o, code in OUTCOME_CODE.items() if code != CONTACT),
)  # the contact class ends the run, everything else extends it: the third-party gate's count


def kind_of(channel: str, outcome: str, contact_point: str) -> Kind:
    """Valid events only: channel and outcome are known enum values."""
    return _KIND_OF[channel, outcome, contact_point != EMERGENCY_CONTACT_POINT]


_days_past_due = itemgetter(Loan._fields.index("days_past_due"))
_new = tuple.__new__  # skips NamedTuple's Python-level __new__ on the hot path
_tally = itemgetter(Kind._fields.index("tally"))
_code = itemgetter(Kind._fields.index("code"))
_cited = itemgetter(Kind._fields.index("cited"))


def make_attempt(at_ms: int, kind: Kind, contact_point: str, event_id: str) -> Attempt:
    return _new(
        Attempt,
        (at_ms, kind.cls, kind.own, kind.tally, kind.channel, kind.outcome, contact_point,
         event_id),
    )  # fmt: skip


def window_tally(kinds: list[Kind], first: int) -> int:
    """The summed tallies of kinds[first:]: all own-attempt counts of a window at once."""
    return sum(map(_tally, kinds[first:]))


class BorrowerState:
    """Everything the engine remembers about one borrower (see the module docstring).

    The attempt buffer is four parallel columns in event-time order (`times`, `kinds`, `points`,
    `ids`): windows bisect `times` directly, and (de)serialising a column is a C-level map
    rather than a Python loop per attempt.

    `run` counts the borrower's own unanswered attempts since `last_contact_ms` (the newest own
    attempt that reached the borrower, ever); which outcomes reach and which go unanswered is
    the config's (`run_steps`). It is exact even when the run is longer than the attempt buffer.
    `gate` is [own attempts without contact since the newest own contact, that contact's time]:
    the third-party gate's count, which always means the contact class. It is None while `run`
    counts exactly that (then the gate reads `run`), and is left out of the encoding then.
    `policy_fired` holds the (violation kind, local day number) pairs contact_policy already
    raised, pruned to the days a non-late event can still fall on.
    """

    __slots__ = (
        "episodes",
        "gate",
        "id_horizon_ms",
        "ids",
        "kinds",
        "last_contact_ms",
        "loans",
        "newest_ms",
        "points",
        "policy_fired",
        "repayment_ids",
        "run",
        "run_start_ms",
        "times",
        "timezone",
    )

    def __init__(self) -> None:
        self.times: list[int] = []
        self.kinds: list[Kind] = []
        self.points: list[str] = []
        self.ids: list[str] = []
        self.newest_ms: int | None = None
        self.id_horizon_ms: int | None = None  # newest - grace: older attempts cannot be duplicates
        self.run = 0
        self.run_start_ms: int | None = None
        self.last_contact_ms: int | None = None
        self.gate: list[int | None] | None = None
        self.timezone: str | None = None
        self.loans: dict[str, Loan] = {}
        self.episodes: dict[str, Episode] = {}
        self.policy_fired: set[tuple[str, int]] = set()
        self.repayment_ids: list[tuple[int, str]] = []

    @property
    def attempts(self) -> list[Attempt]:
        """The buffer as one tuple per attempt (for inspection; the engine reads the columns)."""
        return list(map(make_attempt, self.times, self.kinds, self.points, self.ids))

    def insert(self, position: int, at_ms: int, kind: Kind, point: str, event_id: str) -> None:
        self.times.insert(position, at_ms)
        self.kinds.insert(position, kind)
        self.points.insert(position, point)
        self.ids.insert(position, event_id)

    def drop_oldest(self, count: int) -> None:
        del self.times[:count], self.kinds[:count], self.points[:count], self.ids[:count]

    def gate_run(self) -> int:
        """Own attempts in a row without contact, as the third-party gate counts them."""
        return self.run if self.gate is None else self.gate[0]  # type: ignore[return-value]

    def max_days_past_due(self) -> int | None:
        """The highest days_past_due over the known loans; None without loans."""
        return max(map(_days_past_due, self.loans.values()), default=None)

    def overdue_loan_ids(self, min_days_past_due: int) -> tuple[str, ...]:
        """Sorted ids of the loans at least `min_days_past_due` days past due."""
        loans = self.loans
        return tuple(
            sorted(k for k, loan in loans.items() if loan.days_past_due >= min_days_past_due)
        )

    def _id_floor(self) -> int:
        """Attempts from this index on keep their ids when serialised: the last
        MAX_EVIDENCE_EVENT_IDS, and everything within grace (de-duplication needs them)."""
        floor = len(self.times) - MAX_EVIDENCE_EVENT_IDS
        if self.id_horizon_ms is not None:
            floor = min(floor, bisect_left(self.times, self.id_horizon_ms))
        return max(floor, 0)

    def cited_ids(self, indices: list[int]) -> list[str]:
        """The newest MAX_EVIDENCE_EVENT_IDS ids among `indices` (chronological) that survive
        serialisation, so a deserialised state cites exactly what the original would."""
        floor = self._id_floor()
        kinds, ids = self.kinds, self.ids
        cited = [ids[i] for i in indices if i >= floor or kinds[i].cited]
        return cited[-MAX_EVIDENCE_EVENT_IDS:]

    def to_bytes(self) -> bytes:
        """Compact versioned encoding; ids nobody can need any more are left out.

        orjson's bytes keep the 4 KiB buffer they were written into (`sys.getsizeof` does not
        show it), and stores keep these bytes for every borrower, so they are copied to their own
        length (the memory this saves: docs/performance.md)."""
        times, kinds, points, ids = self.times, self.kinds, self.points, self.ids
        names: list[str] = []
        point_codes: list[int] | None = None
        if points.count(PRIMARY_CONTACT_POINT) != len(points):
            names = list(dict.fromkeys(points))  # first-seen order
            point_codes = list(map({name: i for i, name in enumerate(names)}.__getitem__, points))
        floor = self._id_floor()
        if any(map(_cited, kinds[:floor])):
            old = zip(ids[:floor], kinds[:floor], strict=True)
            kept = [event_id if kind.cited else "" for event_id, kind in old]
        else:
            kept = [""] * floor
        encoded = orjson.dumps(
            [
                STATE_VERSION,
                self.newest_ms,
                self.id_horizon_ms,
                self.run,
                self.run_start_ms,
                self.last_contact_ms,
                self.timezone,
                list(map(sub, times, chain((self.newest_ms or 0,), times))),  # time deltas
                "".join(map(_code, kinds)),
                names,
                point_codes,
                kept + ids[floor:],
                {loan_id: list(loan) for loan_id, loan in self.loans.items()},
                {_abbreviate(slot, _SHORT): list(ep) for slot, ep in self.episodes.items()},
                sorted([_SHORT.get(kind, kind), day] for kind, day in self.policy_fired),
                self.repayment_ids,
                *(() if self.gate is None else (self.gate,)),
            ]
        )
        return memoryview(encoded).tobytes()

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
            names,
            point_codes,
            ids,
            loans,
            episodes,
            fired,
            repayment_ids,
        ) = fields[:16]
        state = cls.__new__(cls)  # every slot is set below: __init__'s empty values are waste
        state.gate = fields[16] if len(fields) > 16 else None  # absent: `run` is the gate's count
        state.newest_ms = newest_ms
        state.id_horizon_ms = id_horizon_ms
        state.run = run
        state.run_start_ms = run_start_ms
        state.last_contact_ms = last_contact_ms
        state.timezone = timezone
        times = state.times = list(accumulate(deltas, initial=newest_ms or 0))
        del times[0]
        kinds = state.kinds = list(map(_OWN_KINDS.__getitem__, codes))
        if point_codes is None:
            state.points = [PRIMARY_CONTACT_POINT] * len(times)
        else:
            points = state.points = list(map(names.__getitem__, point_codes))
            if EMERGENCY_CONTACT_POINT in names:
                state.kinds = [
                    _THIRD_PARTY_KINDS[kind.code] if point == EMERGENCY_CONTACT_POINT else kind
                    for kind, point in zip(kinds, points, strict=True)
                ]
        state.ids = ids
        state.loans = {loan_id: _new(Loan, loan) for loan_id, loan in loans.items()}
        state.episodes = {
            _abbreviate(slot, _LONG): _new(Episode, ep) for slot, ep in episodes.items()
        }
        state.policy_fired = {(_LONG.get(kind, kind), day) for kind, day in fired}
        state.repayment_ids = list(map(tuple, repayment_ids))
        return state
