"""Property tests over random event streams (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.config import HOUR_MS, MINUTE_MS
from streams.core.engine import Alert, BorrowerState, Disposition, apply
from streams.core.events import CHANNELS, OUTCOME_CLASS, CallAttempt, Repayment
from tests.unit.core.engine.engine_events import BORROWER, DEFAULT, T0

CONFIG = replace(DEFAULT, max_attempts_kept=12)
Event = CallAttempt | Repayment


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    """Mostly forward-moving event times with some reordering, redeliveries and repayments."""
    count = draw(st.integers(1, 40))
    clock = T0
    events: list[Event] = []
    for n in range(count):
        clock += draw(st.sampled_from([0, 1, 10 * MINUTE_MS, 2 * HOUR_MS, 20 * HOUR_MS]))
        at_ms = clock - draw(st.sampled_from([0, 0, 0, 30 * MINUTE_MS, 2 * HOUR_MS]))
        event_id = f"e{n}"
        if events and draw(st.integers(0, 5)) == 0:
            events.append(events[draw(st.integers(0, len(events) - 1))])  # redelivery
        elif draw(st.integers(0, 9)) == 0:
            events.append(
                Repayment(
                    event_id,
                    BORROWER,
                    draw(st.sampled_from(["L1", "L2"])),
                    at_ms,
                    "missed",
                    "1.00",
                    draw(st.integers(0, 40)),
                )
            )
        else:
            events.append(
                CallAttempt(
                    event_id,
                    BORROWER,
                    at_ms,
                    draw(st.sampled_from(CHANNELS)),
                    draw(st.sampled_from(sorted(OUTCOME_CLASS))),
                    draw(st.sampled_from(["primary", "primary", "secondary", "emergency_contact"])),
                    None,
                    draw(st.sampled_from([None, "Asia/Shanghai", "America/New_York", "Bad/Zone"])),
                )
            )
    return events


def run(
    events: list[Event], state: BorrowerState | None = None
) -> tuple[BorrowerState | None, list[Alert]]:
    alerts: list[Alert] = []
    for event in events:
        outcome = apply(state, event, CONFIG)
        state = outcome.state
        alerts.extend(outcome.alerts)
    return state, alerts


def fingerprint(state: BorrowerState | None) -> bytes | None:
    return None if state is None else state.to_bytes()


@settings(max_examples=120, deadline=None)
@given(streams(), st.data())
def test_feeding_an_event_twice_equals_feeding_it_once(
    events: list[Event], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(events) - 1))
    once_state, once_alerts = run(events)
    twice = [*events[: index + 1], events[index], *events[index + 1 :]]
    twice_state, twice_alerts = run(twice)
    assert fingerprint(twice_state) == fingerprint(once_state)
    assert [a.alert_id for a in twice_alerts] == [a.alert_id for a in once_alerts]


@settings(max_examples=120, deadline=None)
@given(streams())
def test_state_stays_within_bounds(events: list[Event]) -> None:
    state: BorrowerState | None = None
    for event in events:
        state = apply(state, event, CONFIG).state
        assert state is not None
        assert len(state.attempts) <= CONFIG.max_attempts_kept
        times = [a.at_ms for a in state.attempts]
        assert times == sorted(times)
        assert len(state.policy_fired) <= 4 * 4
        assert len(state.repayment_ids) <= 64


@settings(max_examples=120, deadline=None)
@given(streams(), st.data())
def test_serialise_deserialise_keeps_behaviour(events: list[Event], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(events)))
    state, _ = run(events[:cut])
    _, direct = run(events[cut:], state)
    state, _ = run(events[:cut])
    restored = None if state is None else BorrowerState.from_bytes(state.to_bytes())
    _, via_bytes = run(events[cut:], restored)
    assert via_bytes == direct


@settings(max_examples=120, deadline=None)
@given(streams())
def test_resolved_follows_raised_and_ids_are_unique_and_stable(events: list[Event]) -> None:
    _, alerts = run(events)
    opened: set[tuple[str, str]] = set()
    for alert in alerts:
        episode = (alert.rule, alert.episode_key)
        if alert.state == "raised":
            assert episode not in opened
            opened.add(episode)
        else:
            assert episode in opened, alert
            if alert.state == "resolved":
                opened.discard(episode)
    ids = [alert.alert_id for alert in alerts]
    assert len(ids) == len(set(ids))
    assert [a.alert_id for a in run(events)[1]] == ids


@settings(max_examples=100, deadline=None)
@given(streams())
def test_every_event_gets_a_disposition_and_never_raises(events: list[Event]) -> None:
    state: BorrowerState | None = None
    for event in events:
        outcome = apply(state, event, CONFIG)
        assert outcome.disposition in set(Disposition)
        if outcome.disposition is not Disposition.APPLIED:
            assert outcome.alerts == []
        state = outcome.state
