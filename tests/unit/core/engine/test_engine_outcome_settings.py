"""Which outcomes reach the borrower: `reached_outcomes` / `unanswered_outcomes` of
consecutive_unanswered (the run) and `reached_outcomes`
of all_channels_failed; the third-party gate keeps counting contacts. Hand-computed scenarios,
each against the classic contact-only reading."""

from __future__ import annotations

from dataclasses import replace

import orjson

from streams.core.config import (
    CONTACT_OUTCOMES,
    NON_CONTACT_OUTCOMES,
    AllChannelsFailedConfig,
    ConsecutiveUnansweredConfig,
)
from streams.core.engine import BorrowerState
from streams.core.events import CallAttempt
from tests.unit.core.engine.engine_events import Run, at, call, only, transitions

CU = "consecutive_unanswered"
AF = "all_channels_failed"
NOT_READ = tuple(o for o in NON_CONTACT_OUTCOMES if o != "read")


def run_config(
    reached: tuple[str, ...], unanswered: tuple[str, ...]
) -> ConsecutiveUnansweredConfig:
    return ConsecutiveUnansweredConfig(reached_outcomes=reached, unanswered_outcomes=unanswered)


def misses_with_reads(count: int) -> list[CallAttempt]:
    """`count` unanswered calls, each followed by a read SMS."""
    events = []
    for i in range(count):
        events += [call(f"v{i}", at(2 * i)), call(f"s{i}", at(2 * i + 1), "read", channel="sms")]
    return events


def test_classic_reading_counts_a_read_sms_as_unanswered() -> None:
    run = Run(only(consecutive_unanswered=run_config(CONTACT_OUTCOMES, NON_CONTACT_OUTCOMES)))
    alerts = run.feed(*misses_with_reads(3))
    assert transitions(alerts) == [(CU, "raised", "warning")]
    assert alerts[0].evidence["counts"] == {"run": 5, "no_answer": 3, "read": 2}


def test_read_left_out_of_both_lists_neither_extends_nor_ends_the_run() -> None:
    run = Run(only(consecutive_unanswered=run_config(CONTACT_OUTCOMES, NOT_READ)))
    assert run.feed(*misses_with_reads(4)) == []
    assert run.state is not None
    assert run.state.run == 4
    alerts = run.feed(call("v4", at(10)))
    assert transitions(alerts) == [(CU, "raised", "warning")]
    assert alerts[0].evidence["counts"] == {"run": 5, "no_answer": 5}


def test_read_as_reached_ends_the_run_and_resolves() -> None:
    run = Run(only(consecutive_unanswered=run_config((*CONTACT_OUTCOMES, "read"), NOT_READ)))
    assert run.feed(*misses_with_reads(4)) == []
    assert run.state is not None
    assert run.state.run == 0
    raised = run.feed(*(call(f"w{i}", at(10 + i)) for i in range(5)))
    assert transitions(raised) == [(CU, "raised", "warning")]
    resolved = run.feed(call("r", at(16), "read", channel="sms"))
    assert transitions(resolved) == [(CU, "resolved", "warning")]
    assert "ended a run of 5 attempts" in resolved[0].reason


def test_late_reached_outcome_splits_the_run_counting_only_unanswered() -> None:
    unanswered = tuple(o for o in NOT_READ if o != "delivered")
    run = Run(only(consecutive_unanswered=run_config((*CONTACT_OUTCOMES, "read"), unanswered)))
    run.feed(*(call(f"e{i}", at(i / 10)) for i in range(3)))
    run.feed(call("d", at(0.35), "delivered", channel="sms"))  # neither list: ignored
    run.feed(call("e3", at(0.4)))
    run.feed(call("late", at(0.15), "read", channel="sms"))  # within grace: splits the run
    assert run.state is not None
    assert run.state.run == 2  # e2 and e3; e0, e1 are before the read, `d` does not count
    assert run.state.run_start_ms == at(0.2)


def test_the_third_party_gate_counts_contacts_whatever_the_run_counts() -> None:
    """A read SMS is left out of the run here, yet it is still no contact for the gate."""
    events = [call("v", at(0)), call("s", at(1), "read", channel="sms"), call("v2", at(2))]
    emergency = call("x", at(3), contact_point="emergency_contact")
    for reached, unanswered in (
        (CONTACT_OUTCOMES, NON_CONTACT_OUTCOMES),
        (CONTACT_OUTCOMES, NOT_READ),
        ((*CONTACT_OUTCOMES, "read"), NOT_READ),
    ):
        config = only(contact_policy=None, consecutive_unanswered=run_config(reached, unanswered))
        run = Run(config)
        assert run.feed(*events) == []
        assert run.state is not None
        assert run.state.gate_run() == 3
        assert [a.rule for a in run.feed(emergency)] == []  # gate open: no violation
        restored = Run(config)
        restored.state = BorrowerState.from_bytes(run.state.to_bytes())
        assert restored.state.gate_run() == 3
    assert Run(only(contact_policy=None)).feed(emergency) != []  # closed gate: a violation


def test_gate_count_follows_late_contacts_and_is_left_out_when_run_is_the_same() -> None:
    apart = Run(only(consecutive_unanswered=run_config((*CONTACT_OUTCOMES, "read"), NOT_READ)))
    apart.feed(*(call(f"e{i}", at(i / 10)) for i in range(4)))
    apart.feed(call("late", at(0.15), "answered"))  # splits both counts: e2, e3 remain
    assert apart.state is not None
    assert apart.state.gate == [2, at(0.15)]
    assert apart.state.run == 2
    classic = Run(only(consecutive_unanswered=run_config(CONTACT_OUTCOMES, NON_CONTACT_OUTCOMES)))
    classic.feed(*(call(f"e{i}", at(i / 10)) for i in range(4)))
    assert classic.state is not None
    assert classic.state.gate is None
    assert len(orjson.loads(classic.state.to_bytes())) == 16  # the stored format as before
    assert len(orjson.loads(apart.state.to_bytes())) == 17


def test_all_channels_failed_with_read_as_reached() -> None:
    config = AllChannelsFailedConfig(reached_outcomes=(*CONTACT_OUTCOMES, "read"))
    events = [
        call("v", at(0)),
        call("s", at(1), "read", channel="sms"),
        call("p", at(2), channel="app_push"),
    ]
    classic = Run(
        only(all_channels_failed=AllChannelsFailedConfig(reached_outcomes=CONTACT_OUTCOMES))
    )
    assert transitions(classic.feed(*events)) == [(AF, "raised", "critical")]
    reads = Run(only(all_channels_failed=config))
    assert reads.feed(*events) == []
    assert reads.feed(call("v2", at(3))) == []
    # the read slides out of the window: app_push, voice, email tried, none reached
    assert transitions(reads.feed(call("e", at(7 * 24 + 1) + 1, channel="email"))) == [
        (AF, "raised", "critical")
    ]
    resolved = reads.feed(call("r", at(7 * 24 + 3), "read", channel="email"))
    assert transitions(resolved) == [(AF, "resolved", "critical")]


def test_all_channels_failed_is_not_silenced_by_what_only_ends_the_run() -> None:
    """A read ends the run (and sets `last_contact_ms`) but is not a reach for this rule."""
    config = only(
        all_channels_failed=AllChannelsFailedConfig(reached_outcomes=CONTACT_OUTCOMES),
        consecutive_unanswered=replace(
            run_config((*CONTACT_OUTCOMES, "read"), NOT_READ), enabled=False
        ),
    )
    run = Run(config)
    events = [
        call("v", at(0)),
        call("s", at(1), "read", channel="sms"),
        call("p", at(2), channel="app_push"),
    ]
    assert transitions(run.feed(*events)) == [(AF, "raised", "critical")]
    assert run.state is not None
    assert run.state.last_contact_ms == at(1)
