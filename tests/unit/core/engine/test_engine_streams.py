"""Call attempts and repayments come from two topics consumed independently, so one stream
running ahead in event time (a backlog after an outage) must not make the other look late."""

from __future__ import annotations

from streams.core.config import DAY_MS, HOUR_MS
from streams.core.engine import Disposition, apply, evict_if_idle
from tests.unit.core.engine.engine_events import DEFAULT, at, call, payment


def test_a_repayment_far_ahead_does_not_make_older_attempts_late() -> None:
    state = apply(None, payment("r1", at(hours=240), 5), DEFAULT).state
    outcome = apply(state, call("c1", at(hours=1)), DEFAULT)
    assert outcome.disposition is Disposition.APPLIED


def test_attempts_far_ahead_do_not_make_an_older_repayment_late() -> None:
    state = apply(None, call("c1", at(hours=240)), DEFAULT).state
    outcome = apply(state, payment("r1", at(hours=1), 5), DEFAULT)
    assert outcome.disposition is Disposition.APPLIED


def test_a_repayment_older_than_its_loans_status_by_more_than_grace_is_late() -> None:
    state = apply(None, payment("r2", at(hours=10), 0, kind="payment"), DEFAULT).state
    within = apply(state, payment("r1", at(hours=10) - DEFAULT.grace_ms, 3), DEFAULT)
    assert within.disposition is Disposition.APPLIED
    assert within.state is not None
    beyond = apply(within.state, payment("r0", at(hours=8) - HOUR_MS, 3), DEFAULT)
    assert beyond.disposition is Disposition.LATE
    assert beyond.state is not None
    assert beyond.state.loans["L1"].days_past_due == 0  # the newer status still stands


def test_repayments_count_as_activity_for_idle_eviction() -> None:
    state = apply(None, call("c1", at()), DEFAULT).state
    state = apply(state, payment("r1", at() + 10 * DAY_MS, 0, kind="payment"), DEFAULT).state
    assert state is not None
    assert evict_if_idle(state, at() + 15 * DAY_MS, DEFAULT) is state
    assert evict_if_idle(state, at() + 24 * DAY_MS, DEFAULT) is None


def test_us_preset_call_cap_fires_on_the_eighth_call_in_an_inclusive_seven_day_window() -> None:
    from dataclasses import replace

    from streams.core.config import DAY_MS as DAY

    policy = replace(DEFAULT.rules.contact_policy, max_calls_per_window=7, calls_window_ms=7 * DAY)
    config = replace(DEFAULT, rules=replace(DEFAULT.rules, contact_policy=policy))
    state, fired = None, []
    for n in range(8):  # one call a day at 10:00: the 8th sees 8 calls in [call - 7 d, call]
        outcome = apply(state, call(f"c{n}", at() + n * DAY, "answered"), config)
        state = outcome.state
        fired += [(n, a.rule, a.episode_key) for a in outcome.alerts if a.rule == "contact_policy"]
    assert [(n, rule) for n, rule, _ in fired] == [(7, "contact_policy")]
    assert fired[0][2].startswith("call_frequency@")
