"""Hand-computed scenarios per rule: thresholds and one below, window edges, escalation,
resolution, and silence while nothing changes. Each test enables only the rule under test."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streams.core.config import (
    DAY_MS,
    HOUR_MS,
    ActiveAvoidanceConfig,
    ConsecutiveUnansweredConfig,
    ContactInfoInvalidConfig,
    LowContactRateConfig,
    SeverityLevel,
)
from tests.unit.core.engine.engine_events import Run, at, call, only, payment, transitions

CU = "consecutive_unanswered"


# consecutive_unanswered ---------------------------------------------------------------------


@pytest.mark.parametrize(("misses", "expected"), [(4, []), (5, [(CU, "raised", "warning")])])
def test_consecutive_unanswered_threshold(
    misses: int, expected: list[tuple[str, str, str]]
) -> None:
    run = Run(only(consecutive_unanswered=None))
    assert transitions(run.feed(*(call(f"e{i}", at(i)) for i in range(misses)))) == expected


def test_consecutive_unanswered_escalates_once_and_resolves_with_same_episode() -> None:
    run = Run(only(consecutive_unanswered=None))
    alerts = run.feed(
        *(call(f"e{i}", at(i), "rejected" if i % 2 else "no_answer") for i in range(12))
    )
    assert transitions(alerts) == [(CU, "raised", "warning"), (CU, "escalated", "critical")]
    assert alerts[0].reason.startswith("5 attempts in a row without contact (threshold 5)")
    assert alerts[1].evidence["counts"]["run"] == 10
    resolved = run.feed(call("c", at(13), "answered"))
    assert transitions(resolved) == [(CU, "resolved", "critical")]
    assert {a.episode_key for a in [*alerts, *resolved]} == {"e4"}
    assert "ended a run of 12 attempts" in resolved[0].reason
    assert run.feed(call("c2", at(14), "answered")) == []


def test_emergency_contact_attempts_do_not_count() -> None:
    run = Run(only(consecutive_unanswered=None))
    events = [call(f"e{i}", at(i), contact_point="emergency_contact") for i in range(6)]
    assert run.feed(*events) == []
    assert run.state is not None
    assert run.state.run == 0


# low_contact_rate ---------------------------------------------------------------------------


def test_low_contact_rate_at_and_below_min_attempts() -> None:
    run = Run(only(low_contact_rate=None))
    assert run.feed(*(call(f"e{i}", at(i)) for i in range(5))) == []
    raised = run.feed(call("e5", at(5)))
    assert transitions(raised) == [("low_contact_rate", "raised", "warning")]
    assert raised[0].evidence["counts"] == {"attempts": 6, "contacts": 0}


def test_low_contact_rate_exactly_at_rate_threshold_counts_as_low() -> None:
    run = Run(only(low_contact_rate=None))
    events = [call("c0", at(0), "answered"), *(call(f"e{i}", at(i)) for i in range(1, 10))]
    alerts = run.feed(*events)  # 1 contact in 10 = 10 %: low; at 9 attempts it was 11.1 %
    assert [(a.state, a.event_time_ms) for a in alerts] == [("raised", at(9))]


def test_low_contact_rate_window_edge_is_inclusive() -> None:
    window = LowContactRateConfig(window_ms=10 * HOUR_MS, min_attempts=3)
    run = Run(only(low_contact_rate=window))
    run.feed(call("e0", at(0)), call("e1", at(5)))
    assert transitions(run.feed(call("e2", at(10)))) == [("low_contact_rate", "raised", "warning")]
    # e0 at exactly now - window was inside; 1 ms later it is out and the condition ends.
    resolved = run.feed(call("e3", at(10) + 1, "answered"))
    assert transitions(resolved) == [("low_contact_rate", "resolved", "warning")]


# active_avoidance ---------------------------------------------------------------------------


def test_active_avoidance_threshold_window_and_resolution() -> None:
    config = only(active_avoidance=ActiveAvoidanceConfig(window_ms=48 * HOUR_MS))
    run = Run(config)
    assert run.feed(call("a1", at(0), "rejected"), call("a2", at(24), "blocked")) == []
    raised = run.feed(call("a3", at(48), "rejected"))  # a1 exactly on the edge: inside
    assert transitions(raised) == [("active_avoidance", "raised", "warning")]
    assert raised[0].recommended_actions == ("switch_channel", "escalate_collection")
    assert run.feed(call("a4", at(49), "rejected")) == []
    resolved = run.feed(call("c", at(50), "answered"))
    assert [(a.state, a.episode_key) for a in resolved] == [("resolved", "a3")]


def test_active_avoidance_one_below_at_window_edge() -> None:
    run = Run(only(active_avoidance=None))
    run.feed(call("a1", at(0), "rejected"), call("a2", at(24), "blocked"))
    assert run.feed(call("a3", at(48) + 1, "rejected")) == []  # a1 slid out: only 2


# contact_info_invalid -----------------------------------------------------------------------


def test_contact_info_invalid_per_contact_point() -> None:
    run = Run(only(contact_info_invalid=None))
    assert run.feed(call("s1", at(0), "number_suspended")) == []
    assert run.feed(call("x1", at(1), "bounced", contact_point="secondary")) == []
    raised = run.feed(call("s2", at(2), "wrong_party"))
    assert [(a.state, a.episode_key) for a in raised] == [("raised", "s2@primary")]
    assert run.feed(call("c2", at(3), "answered", contact_point="secondary")) == []
    resolved = run.feed(call("c1", at(4), "answered"))
    assert [(a.state, a.episode_key) for a in resolved] == [("resolved", "s2@primary")]


def test_contact_info_invalid_immediate_outcome() -> None:
    run = Run(only(contact_info_invalid=None))
    raised = run.feed(call("n1", at(0), "number_invalid"))
    assert transitions(raised) == [("contact_info_invalid", "raised", "warning")]
    assert "conclusive" in raised[0].reason


@pytest.mark.parametrize(
    ("point", "shown"),
    [("+8613800138000", "+86138****8000"), ("jane.doe@example.com", "j***@example.com")],
)
def test_contact_info_invalid_masks_the_point_in_reason_and_episode(point: str, shown: str) -> None:
    """The producer put the number or address itself in contact_point: reason and episode id
    show it masked; the evidence carries it as sent, for refreshing that contact."""
    run = Run(only(contact_info_invalid=None))
    channel = "email" if "@" in point else "voice"
    outcome = "bounced" if "@" in point else "number_invalid"
    raised = run.feed(*(call(f"n{i}", at(i), outcome, channel=channel, contact_point=point)
                        for i in range(2)))  # fmt: skip
    resolved = run.feed(call("c1", at(2), "replied" if "@" in point else "answered",
                             channel=channel, contact_point=point))  # fmt: skip
    for alert in [*raised, *resolved]:
        assert point not in alert.reason
        assert shown in alert.reason
        assert point not in alert.episode_key
        assert alert.evidence["contact_point"] == point
    assert [a.state for a in [*raised, *resolved]] == ["raised", "resolved"]


def test_contact_info_invalid_window_edge() -> None:
    config = only(contact_info_invalid=ContactInfoInvalidConfig(window_ms=7 * DAY_MS))
    run = Run(config)
    run.feed(call("s1", at(0), "number_suspended"))
    assert len(run.feed(call("s2", at(7 * 24), "bounced"))) == 1
    run = Run(config)
    run.feed(call("s1", at(0), "number_suspended"))
    assert run.feed(call("s2", at(7 * 24) + 1, "bounced")) == []


# all_channels_failed ------------------------------------------------------------------------


def test_all_channels_failed_needs_three_channels_and_no_contact() -> None:
    run = Run(only(all_channels_failed=None))
    events = [call("v", at(0)), call("s", at(1), channel="sms"), call("v2", at(2))]
    assert run.feed(*events) == []
    raised = run.feed(call("p", at(3), channel="app_push"))
    assert transitions(raised) == [("all_channels_failed", "raised", "critical")]
    assert raised[0].recommended_actions == ("contact_emergency_contact", "escalate_collection")
    assert run.feed(call("e", at(4), channel="email")) == []
    resolved = run.feed(call("c", at(5), "replied", channel="sms"))
    assert [(a.state, a.episode_key) for a in resolved] == [("resolved", "p")]


def test_all_channels_failed_contact_in_window_blocks_until_it_slides_out() -> None:
    run = Run(only(all_channels_failed=None))
    run.feed(call("c", at(0), "answered"), call("v", at(1)), call("s", at(2), channel="sms"))
    assert run.feed(call("p", at(3), channel="app_push")) == []
    assert run.feed(call("v2", at(7 * 24))) == []  # the contact is exactly on the edge: inside
    assert len(run.feed(call("v3", at(7 * 24) + 1))) == 1


def test_all_channels_failed_gate_closed_recommends_no_emergency_contact() -> None:
    config = only(all_channels_failed=None)
    config = replace(
        config, third_party_gate=replace(config.third_party_gate, min_consecutive_failed=5)
    )
    run = Run(config)
    run.feed(call("v", at(0)), call("s", at(1), channel="sms"))
    raised = run.feed(call("p", at(3), channel="app_push"))
    assert raised[0].recommended_actions == ("escalate_collection",)


# unreachable_while_overdue ------------------------------------------------------------------

UO = "unreachable_while_overdue"


def test_unreachable_while_overdue_raises_and_resolves_on_payment() -> None:
    run = Run(only(consecutive_unanswered=None, unreachable_while_overdue=None))
    run.feed(payment("p0", at(0), 0))
    alerts = run.feed(*(call(f"e{i}", at(i + 1)) for i in range(5)))
    assert transitions(alerts) == [(CU, "raised", "warning")]
    raised = run.feed(payment("p1", at(7), 1, kind="missed"))
    assert transitions(raised) == [(UO, "raised", "critical")]
    assert raised[0].loan_ids == ("L1",)
    assert raised[0].days_past_due == 1
    assert run.feed(payment("p2", at(8), 2)) == []
    resolved = run.feed(payment("p3", at(9), 0, kind="payment"))
    assert [(a.rule, a.state, a.episode_key) for a in resolved] == [(UO, "resolved", "p1")]


def test_unreachable_while_overdue_resolves_with_contact_after_unreachability_rule() -> None:
    run = Run(only(consecutive_unanswered=None, unreachable_while_overdue=None))
    run.feed(payment("p0", at(0), 30))
    alerts = run.feed(*(call(f"e{i}", at(i + 1)) for i in range(5)))
    assert transitions(alerts) == [(CU, "raised", "warning"), (UO, "raised", "critical")]
    alerts = run.feed(call("c", at(7), "answered"))
    assert transitions(alerts) == [(CU, "resolved", "warning"), (UO, "resolved", "critical")]


# contact_policy -----------------------------------------------------------------------------

CP = "contact_policy"


@pytest.mark.parametrize(
    ("local_hour", "quiet"),
    [(7.99, True), (8, False), (21.99, False), (22, True), (2, True)],
)
def test_quiet_hours_in_borrower_local_time(local_hour: float, quiet: bool) -> None:
    run = Run(only(contact_policy=None))
    # at(0) is 10:00 in Asia/Shanghai (UTC+8).
    alerts = run.feed(call("q", at(local_hour - 10), borrower_tz="Asia/Shanghai"))
    assert bool(alerts) == quiet


def test_quiet_hours_unknown_zone_falls_back_to_default() -> None:
    run = Run(only(contact_policy=None))
    alerts = run.feed(call("q", at(13), borrower_tz="Not/AZone"))  # 23:00 in Shanghai
    assert [a.episode_key for a in alerts] == ["quiet_hours@2026-11-27"]


def test_quiet_hours_fire_once_per_local_day() -> None:
    run = Run(only(contact_policy=None))
    first = run.feed(call("q1", at(12.5)))  # 22:30 local, 2026-11-27
    assert run.feed(call("q2", at(13))) == []
    next_day = run.feed(call("q3", at(15)))  # 01:00 local, 2026-11-28
    assert [a.episode_key for a in [*first, *next_day]] == [
        "quiet_hours@2026-11-27",
        "quiet_hours@2026-11-28",
    ]


def test_unanswered_per_contact_point_per_day() -> None:
    run = Run(only(contact_policy=None))
    assert run.feed(*(call(f"e{i}", at(i / 2)) for i in range(6))) == []
    assert run.feed(call("s", at(3.2), channel="sms", contact_point="secondary")) == []
    alerts = run.feed(call("e6", at(3.5)))
    assert [a.episode_key for a in alerts] == ["unanswered_per_contact_point@2026-11-27"]
    assert alerts[0].evidence["counts"] == {"attempts": 7}
    assert run.feed(call("e7", at(4))) == []


def test_unanswered_per_contact_point_masks_the_point() -> None:
    run = Run(only(contact_policy=None))
    number = "13800138000"
    alerts = run.feed(*(call(f"e{i}", at(i / 2), contact_point=number) for i in range(7)))
    (alert,) = alerts
    assert alert.reason == "7 unanswered attempts on 138****8000 on local day 2026-11-27 (limit 6)"
    assert alert.evidence["contact_point"] == number


def test_contacts_per_day_limit() -> None:
    run = Run(only(contact_policy=None))
    assert run.feed(*(call(f"c{i}", at(i), "answered") for i in range(3))) == []
    alerts = run.feed(call("c3", at(4), "answered"))
    assert [a.episode_key for a in alerts] == ["contacts_per_day@2026-11-27"]


def test_emergency_contact_only_with_gate_open() -> None:
    run = Run(only(contact_policy=None))
    closed = run.feed(call("x", at(0), contact_point="emergency_contact"))
    assert [a.episode_key for a in closed] == ["third_party_gate_closed@2026-11-27"]
    run = Run(only(contact_policy=None))
    run.feed(*(call(f"e{i}", at(i / 4)) for i in range(3)))
    assert run.feed(call("x", at(1), contact_point="emergency_contact")) == []


# disabled rules -----------------------------------------------------------------------------


def test_disabled_rules_never_fire() -> None:
    run = Run(only())
    events = [call(f"e{i}", at(i), "number_invalid", channel="sms") for i in range(12)]
    assert run.feed(payment("p", at(0), 9), *events) == []


def test_an_episode_carries_on_under_changed_levels() -> None:
    """A config switch (hot reload, or a restart with new levels) keeps the open episode: its
    level index is clamped to the new levels, a higher new level escalates it, and a run below
    the new first level resolves it at the next own attempt, saying why."""
    two_levels = only(consecutive_unanswered=None)
    run = Run(two_levels)
    alerts = run.feed(*(call(f"e{i}", at(i)) for i in range(10)))
    assert transitions(alerts) == [(CU, "raised", "warning"), (CU, "escalated", "critical")]
    one_level = ConsecutiveUnansweredConfig(levels=(SeverityLevel(3, "warning"),))
    run.config = replace(only(consecutive_unanswered=one_level), version="v2")
    assert run.feed(call("e10", at(10))) == []  # still open, nothing changed
    resolved = run.feed(call("c", at(11), "answered"))
    assert transitions(resolved) == [(CU, "resolved", "warning")]  # level 1 clamped to 0
    assert resolved[0].config_version == "v2"

    run = Run(two_levels)
    run.feed(*(call(f"f{i}", at(i)) for i in range(6)))
    higher = ConsecutiveUnansweredConfig(levels=(SeverityLevel(8, "critical"),))
    run.config = only(consecutive_unanswered=higher)
    resolved = run.feed(call("f6", at(6)))  # run 7: below the new first level
    assert transitions(resolved) == [(CU, "resolved", "critical")]
    assert "below the threshold (8) now in force" in resolved[0].reason
