"""`apply` and `evict_if_idle`: the engine's whole surface, pure and clock-free.

`apply` places one event in a borrower's state and runs the rules over the result. For speed it
updates the given state in place and returns it (the worker owns the state and writes
`to_bytes()` right after); duplicates and late events leave it untouched. Ordering decisions:

* late: a call attempt older than the borrower's newest call attempt by more than `grace`
  (exactly `grace` is still in time) is ignored; within grace it is placed in event-time order
  (after events with the same time) and the rules are re-evaluated at the borrower's newest time.
  Repayments are judged against their own loan's newest status instead: the two topics are
  consumed independently, and one running ahead (a backlog after an outage) must not make the
  other's events look late. Repayments do not move the attempt clock that windows end at;
* duplicates: an event_id already seen among the attempts (or repayments) within grace; older
  duplicates are late anyway;
* a full buffer cannot place an attempt older than everything it keeps: that attempt is late too;
* limited: an attempt on a new contact point when the borrower already has MAX_CONTACT_POINTS
  (among the attempts kept and the open per-point episodes) is refused, so neither the state nor
  its per-point episodes can grow without bound; the caller dead-letters it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from enum import StrEnum
from typing import NamedTuple

from streams.core.config import EngineConfig
from streams.core.engine.alert import Alert
from streams.core.engine.rules import Rule, build_rules, retention_ms
from streams.core.engine.rules.base import Evaluation
from streams.core.engine.state import (
    CONTACT,
    CONTACT_RUN_STEPS,
    KINDS,
    RUN_EXTENDS,
    RUN_KEEPS,
    BorrowerState,
    Loan,
    kind_of,
    run_steps,
)
from streams.core.events import CallAttempt, Repayment

MAX_LOANS = 32
MAX_REPAYMENT_IDS = 64
MAX_CONTACT_POINTS = 16


class Disposition(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    LATE = "late"
    LIMITED = "limited"


class Outcome(NamedTuple):
    state: BorrowerState | None
    alerts: list[Alert]
    disposition: Disposition


class _Engine(NamedTuple):
    """A config compiled once: rule objects, the attempt retention and the buffer bound."""

    attempt_rules: tuple[tuple[Rule, ...], ...]  # by Kind.index: the rules it can change
    repayment_rules: tuple[Rule, ...]
    enabled: frozenset[str]
    retention_ms: int
    max_attempts: int
    run_steps: tuple[int, ...]  # by Kind.index: what the attempt does to `BorrowerState.run`
    gate_counts_apart: bool  # `run` is not the gate's count: keep `BorrowerState.gate`


_engines: dict[int, tuple[EngineConfig, _Engine]] = {}
_APPLIED, _DUPLICATE, _LATE = Disposition.APPLIED, Disposition.DUPLICATE, Disposition.LATE
_LIMITED = Disposition.LIMITED


def _outcome(state: BorrowerState, alerts: list[Alert], disposition: Disposition) -> Outcome:
    """NamedTuple construction without its Python-level __new__: this runs once per event."""
    return tuple.__new__(Outcome, (state, alerts, disposition))


def _engine_for(config: EngineConfig) -> _Engine:
    """Compiled engine per config object (by identity: hashing a nested config is not free)."""
    entry = _engines.get(id(config))
    if entry is None or entry[0] is not config:
        rules = build_rules(config)
        run = config.rules.consecutive_unanswered
        steps = run_steps(run.reached_outcomes, run.unanswered_outcomes)
        engine = _Engine(
            attempt_rules=tuple(tuple(r for r in rules if r.reacts_to(kind)) for kind in KINDS),
            repayment_rules=tuple(rule for rule in rules if rule.on_repayments),
            enabled=frozenset(rule.name for rule in rules),
            retention_ms=retention_ms(config),
            max_attempts=max(1, config.max_attempts_kept),
            run_steps=steps,
            gate_counts_apart=steps != CONTACT_RUN_STEPS,
        )
        if len(_engines) >= 64:
            _engines.clear()
        entry = _engines[id(config)] = (config, engine)
    return entry[1]


def apply(
    state: BorrowerState | None, event: CallAttempt | Repayment, config: EngineConfig
) -> Outcome:
    """Apply one event of a borrower; see the module docstring for late and duplicate events."""
    entry = _engines.get(id(config))
    engine = entry[1] if entry is not None and entry[0] is config else _engine_for(config)
    if state is None:
        state = BorrowerState()
    if type(event) is CallAttempt:
        if state.newest_ms is not None and event.at_ms < state.newest_ms - config.grace_ms:
            return _outcome(state, [], _LATE)
        return _apply_attempt(state, event, config, engine)
    return _apply_repayment(state, event, config, engine)  # type: ignore[arg-type]


def _apply_attempt(
    state: BorrowerState, event: CallAttempt, config: EngineConfig, engine: _Engine
) -> Outcome:
    times = state.times
    at_ms = event.at_ms
    horizon = state.id_horizon_ms
    if horizon is not None and event.event_id in state.ids[bisect_left(times, horizon) :]:
        return _outcome(state, [], _DUPLICATE)
    position = len(times) if not times or at_ms >= times[-1] else bisect_right(times, at_ms)
    if position < len(times) + 1 - engine.max_attempts:
        return _outcome(state, [], _LATE)

    point = event.contact_point
    if point not in state.points and _at_contact_point_limit(state, point):
        return _outcome(state, [], _LIMITED)
    kind = kind_of(event.channel, event.outcome, point)
    state.insert(position, at_ms, kind, point, event.event_id)
    run_before = state.run
    if kind.own:
        if engine.gate_counts_apart:
            _update_gate(state, position)  # first: a state without a gate starts from its run
        _update_run(state, position, engine.run_steps)
    if not engine.gate_counts_apart:
        state.gate = None  # left over from a config whose run counted otherwise
    if event.borrower_tz:
        state.timezone = event.borrower_tz
    position -= _advance(state, at_ms, config, engine)
    ev = Evaluation(state, event, kind, position, config, run_before=run_before)
    for rule in engine.attempt_rules[kind.index]:
        rule.evaluate(ev)
    return _outcome(state, ev.alerts, _APPLIED)


def _at_contact_point_limit(state: BorrowerState, point: str) -> bool:
    """Whether `point` would be one contact point too many. Run only for an attempt on a point
    the buffer does not hold, which is rare."""
    known = set(state.points)
    known.update(slot.partition("@")[2] for slot in state.episodes if "@" in slot)
    return point not in known and len(known) >= MAX_CONTACT_POINTS


def _update_run(state: BorrowerState, position: int, steps: tuple[int, ...]) -> None:
    """Keep `run` = own unanswered attempts after the newest own attempt that reached."""
    step = steps[state.kinds[position].index]
    if step == RUN_KEEPS:
        return
    at_ms = state.times[position]
    last_contact = state.last_contact_ms
    if last_contact is not None and at_ms < last_contact:
        return  # a late attempt from before the newest contact: the current run is unchanged
    if step == RUN_EXTENDS:
        state.run += 1
        if state.run_start_ms is None or at_ms < state.run_start_ms:
            state.run_start_ms = at_ms
        return
    state.last_contact_ms = at_ms
    later = zip(state.times[position + 1 :], state.kinds[position + 1 :], strict=True)
    after = [t for t, kind in later if steps[kind.index] == RUN_EXTENDS]  # none reached: above
    state.run = len(after)
    state.run_start_ms = after[0] if after else None


def _update_gate(state: BorrowerState, position: int) -> None:
    """Keep `gate` = own attempts without contact after the newest own contact (the contact
    class, whatever the run counts); a state without one starts from its run."""
    gate = state.gate
    if gate is None:
        gate = state.gate = [state.run, state.last_contact_ms]
    at_ms = state.times[position]
    last_contact = gate[1]
    if last_contact is not None and at_ms < last_contact:
        return
    if state.kinds[position].cls != CONTACT:
        gate[0] += 1  # type: ignore[operator]
        return
    gate[1] = at_ms
    later = state.kinds[position + 1 :]
    gate[0] = sum(1 for kind in later if kind.own and kind.cls != CONTACT)


def _advance(state: BorrowerState, at_ms: int, config: EngineConfig, engine: _Engine) -> int:
    """Move the borrower's clock to `at_ms` and trim the buffer; returns how many were dropped:
    everything older than the retention, and the oldest beyond `max_attempts`."""
    newest = state.newest_ms
    if newest is None or at_ms > newest:
        state.newest_ms = newest = at_ms
        state.id_horizon_ms = at_ms - config.grace_ms
    times = state.times
    drop = max(bisect_left(times, newest - engine.retention_ms), len(times) - engine.max_attempts)
    if drop:
        state.drop_oldest(drop)
    return drop


def _apply_repayment(
    state: BorrowerState, event: Repayment, config: EngineConfig, engine: _Engine
) -> Outcome:
    event_id = event.event_id
    if any(seen == event_id for _, seen in state.repayment_ids):
        return _outcome(state, [], _DUPLICATE)
    at_ms = event.at_ms
    loans = state.loans
    loan = loans.get(event.loan_id)
    if loan is not None and at_ms < loan.at_ms - config.grace_ms:
        return _outcome(state, [], _LATE)
    if loan is None or at_ms >= loan.at_ms:
        loans[event.loan_id] = Loan(event.days_past_due, event.type, at_ms)
        if len(loans) > MAX_LOANS:
            del loans[min(loans, key=lambda loan_id: loans[loan_id].at_ms)]
    newest_repayment = max([at_ms, *(seen_at for seen_at, _ in state.repayment_ids)])
    horizon = newest_repayment - config.grace_ms
    recent = [(seen_at, seen) for seen_at, seen in state.repayment_ids if seen_at >= horizon]
    recent.append((at_ms, event_id))
    state.repayment_ids = recent[-MAX_REPAYMENT_IDS:]
    ev = Evaluation(state, event, None, -1, config, run_before=state.run)
    ev.now_ms = at_ms
    for rule in engine.repayment_rules:
        rule.evaluate(ev)
    return _outcome(state, ev.alerts, _APPLIED)


def evict_if_idle(
    state: BorrowerState, watermark_ms: int, config: EngineConfig
) -> BorrowerState | None:
    """None (delete the state) once the borrower has been idle for `idle_eviction` (inclusive)
    and no enabled rule has an open episode; otherwise the state, unchanged."""
    newest = max([state.newest_ms or 0, *(loan.at_ms for loan in state.loans.values())])
    if watermark_ms - newest < config.idle_eviction_ms:
        return state
    enabled = _engine_for(config).enabled
    if any(slot.split("@", 1)[0] in enabled for slot in state.episodes):
        return state
    return None
