"""The seven rules in the order their alerts come out (docs/rules.md), built from config."""

from __future__ import annotations

from streams.core.config import EngineConfig
from streams.core.engine.rules.active_avoidance import ActiveAvoidance
from streams.core.engine.rules.all_channels_failed import AllChannelsFailed
from streams.core.engine.rules.base import Evaluation, Rule
from streams.core.engine.rules.consecutive_unanswered import ConsecutiveUnanswered
from streams.core.engine.rules.contact_info_invalid import ContactInfoInvalid
from streams.core.engine.rules.contact_policy import SAME_DAY_REACH_MS, ContactPolicy
from streams.core.engine.rules.low_contact_rate import LowContactRate
from streams.core.engine.rules.unreachable_while_overdue import UnreachableWhileOverdue

__all__ = [
    "ActiveAvoidance",
    "AllChannelsFailed",
    "ConsecutiveUnanswered",
    "ContactInfoInvalid",
    "ContactPolicy",
    "Evaluation",
    "LowContactRate",
    "Rule",
    "UnreachableWhileOverdue",
    "build_rules",
    "retention_ms",
]


def build_rules(config: EngineConfig) -> tuple[Rule, ...]:
    """The enabled rules, in table order; a disabled rule is simply absent."""
    rules = config.rules
    candidates: list[tuple[bool, Rule]] = [
        (
            rules.consecutive_unanswered.enabled,
            ConsecutiveUnanswered(rules.consecutive_unanswered),
        ),
        (rules.low_contact_rate.enabled, LowContactRate(rules.low_contact_rate)),
        (rules.active_avoidance.enabled, ActiveAvoidance(rules.active_avoidance)),
        (rules.contact_info_invalid.enabled, ContactInfoInvalid(rules.contact_info_invalid)),
        (
            rules.all_channels_failed.enabled,
            AllChannelsFailed(rules.all_channels_failed, rules.consecutive_unanswered),
        ),
        (
            rules.unreachable_while_overdue.enabled,
            UnreachableWhileOverdue(rules.unreachable_while_overdue),
        ),
        (
            rules.contact_policy.enabled,
            ContactPolicy(rules.contact_policy, config.default_timezone, config.grace_ms),
        ),
    ]
    return tuple(rule for enabled, rule in candidates if enabled)


def retention_ms(config: EngineConfig) -> int:
    """How far back attempts are kept: the longest rule window (windows end at the borrower's
    newest time), and a local day before the oldest event that is not late yet (contact_policy,
    de-duplication). Windows of disabled rules count too, so that evidence (the attempts of a
    run, say) does not shrink when an unrelated rule is switched off."""
    rules = config.rules
    return max(
        rules.low_contact_rate.window_ms,
        rules.active_avoidance.window_ms,
        rules.contact_info_invalid.window_ms,
        rules.all_channels_failed.window_ms,
        rules.contact_policy.calls_window_ms,
        config.grace_ms + SAME_DAY_REACH_MS,
    )
