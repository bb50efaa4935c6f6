"""Ordering, de-duplication, bounds, serialisation and eviction of the borrower state."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streams.core.config import DAY_MS, HOUR_MS
from streams.core.engine import BorrowerState, Disposition, apply, evict_if_idle
from tests.unit.core.engine.engine_events import DEFAULT, Run, at, call, only, payment

D = Disposition


def test_late_beyond_grace_is_ignored_and_exactly_grace_is_placed() -> None:
    run = Run()
    run.feed(call("e1", at(5)))
    run.feed(call("edge", at(4)), call("late", at(4) - 1))
    assert run.dispositions == [D.APPLIED, D.APPLIED, D.LATE]
    assert run.state is not None
    assert [a.event_id for a in run.state.attempts] == ["edge", "e1"]


def test_late_contact_within_grace_splits_the_run() -> None:
    run = Run(only(consecutive_unanswered=None))
    run.feed(*(call(f"e{i}", at(i / 10)) for i in range(7)))
    assert run.state is not None
    assert run.state.run == 7
    assert run.feed(call("c1", at(0.05), "answered")) == []  # after e0: 6 in a row remain
    assert run.state.run == 6
    resolved = run.feed(call("c2", at(0.25), "answered"))  # after e2: 4 remain, below 5
    assert [a.state for a in resolved] == ["resolved"]
    assert run.state.run == 4


def test_duplicates_of_attempts_and_repayments() -> None:
    run = Run()
    run.feed(call("e1", at(0)), payment("p1", at(0), 3), call("e1", at(0)), payment("p1", at(0), 3))
    assert run.dispositions == [D.APPLIED, D.APPLIED, D.DUPLICATE, D.DUPLICATE]


def test_duplicate_returns_state_unchanged() -> None:
    state = apply(None, call("e1", at(0)), DEFAULT).state
    assert state is not None
    before = state.to_bytes()
    outcome = apply(state, call("e1", at(0)), DEFAULT)
    assert outcome.alerts == []
    assert outcome.state is state
    assert state.to_bytes() == before


def test_buffer_is_bounded_by_count_and_retention() -> None:
    config = replace(DEFAULT, max_attempts_kept=4)
    run = Run(config)
    run.feed(*(call(f"e{i}", at(i)) for i in range(10)))
    assert run.state is not None
    assert [a.event_id for a in run.state.attempts] == ["e6", "e7", "e8", "e9"]
    assert run.state.run == 10  # the counter stays exact beyond the buffer
    run = Run()
    run.feed(call("old", at(0)), call("new", at(8 * 24)))
    assert run.state is not None
    assert [a.event_id for a in run.state.attempts] == ["new"]


def test_full_buffer_cannot_place_an_attempt_older_than_all_it_keeps() -> None:
    run = Run(replace(DEFAULT, max_attempts_kept=2))
    run.feed(call("a", at(0.5)), call("b", at(0.6)), call("x", at(0.1)))
    assert run.dispositions[-1] == D.LATE


def test_round_trip_keeps_behaviour_and_drops_unneeded_ids() -> None:
    run = Run()
    run.feed(*(call(f"e{i:02d}", at(i)) for i in range(14)))
    assert run.state is not None
    data = run.state.to_bytes()
    copy = BorrowerState.from_bytes(data)
    assert copy.to_bytes() == data
    ids = [a.event_id for a in copy.attempts]
    assert ids[:4] == ["", "", "", ""]
    assert ids[4:] == [f"e{i:02d}" for i in range(4, 14)]


def test_unknown_state_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        BorrowerState.from_bytes(b"[99]")


def test_state_with_20_attempts_is_under_1kb() -> None:
    run = Run()
    outcomes = ["no_answer", "answered", "busy", "rejected", "voicemail"]
    run.feed(payment("p", at(0), 4))
    run.feed(*(call(f"att-{i:012d}", at(7 * i + 0.3), outcomes[i % 5]) for i in range(20)))
    assert run.state is not None
    assert len(run.state.attempts) == 20
    assert len(run.state.to_bytes()) <= 1024


def test_evict_if_idle() -> None:
    run = Run(only(consecutive_unanswered=None))
    run.feed(call("e1", at(0)))
    state = run.state
    assert state is not None
    idle = DEFAULT.idle_eviction_ms
    assert evict_if_idle(state, at(0) + idle - 1, DEFAULT) is state
    assert evict_if_idle(state, at(0) + idle, DEFAULT) is None
    run.feed(*(call(f"e{i}", at(i)) for i in range(2, 7)))
    assert run.state is not None
    assert evict_if_idle(run.state, at(0) + 100 * DAY_MS, DEFAULT) is run.state  # open episode
    assert evict_if_idle(run.state, at(0) + 100 * DAY_MS, only()) is None  # rule disabled


def test_repayment_out_of_order_keeps_newer_loan_status() -> None:
    run = Run()
    run.feed(payment("p2", at(1), 0, kind="payment"), payment("p1", at(1) - HOUR_MS // 2, 9))
    assert run.state is not None
    assert run.state.loans["L1"].days_past_due == 0
