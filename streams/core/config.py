"""The frozen configuration objects: loaded once, validated whole, never mutated.

Durations are held as integer milliseconds so the engine's window arithmetic stays integer.
Loading and validation (TOML, env overrides, error collection) live in `streams.core.config_loader`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from streams.core.events import OUTCOME_CLASS, OutcomeClass

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")

# The outcomes of the contact class (answered, replied) and all the others, in OUTCOME_CLASS order:
# the first design's answer to "was the borrower reached?" (deploy/presets/legacy.toml keeps it).
CONTACT_OUTCOMES: tuple[str, ...] = tuple(
    o for o, c in OUTCOME_CLASS.items() if c is OutcomeClass.CONTACT
)
NON_CONTACT_OUTCOMES: tuple[str, ...] = tuple(
    o for o, c in OUTCOME_CLASS.items() if c is not OutcomeClass.CONTACT
)
# A message that was delivered or read reached a working phone or inbox: not 失联. It is no
# answer either, so it neither extends nor ends the unanswered run (docs/rules.md has the backtest).
DELIVERED_OR_READ: tuple[str, ...] = ("delivered", "read")
REACHED_OUTCOMES: tuple[str, ...] = (*CONTACT_OUTCOMES, *DELIVERED_OR_READ)
UNANSWERED_OUTCOMES: tuple[str, ...] = tuple(
    o for o in NON_CONTACT_OUTCOMES if o not in DELIVERED_OR_READ
)


@dataclass(frozen=True, slots=True)
class SeverityLevel:
    at: int
    severity: str


@dataclass(frozen=True, slots=True)
class ConsecutiveUnansweredConfig:
    """`reached_outcomes` end the run, `unanswered_outcomes` extend it, any other outcome leaves
    it as it is. The third-party gate keeps its own count (any own attempt without contact)."""

    enabled: bool = True
    levels: tuple[SeverityLevel, ...] = (
        SeverityLevel(5, "warning"),
        SeverityLevel(10, "critical"),
    )
    reached_outcomes: tuple[str, ...] = CONTACT_OUTCOMES
    unanswered_outcomes: tuple[str, ...] = UNANSWERED_OUTCOMES


@dataclass(frozen=True, slots=True)
class LowContactRateConfig:
    enabled: bool = True
    window_ms: int = 72 * HOUR_MS
    min_attempts: int = 6
    max_contact_rate: float = 0.10


@dataclass(frozen=True, slots=True)
class ActiveAvoidanceConfig:
    enabled: bool = True
    window_ms: int = 48 * HOUR_MS
    min_avoidance: int = 3


@dataclass(frozen=True, slots=True)
class ContactInfoInvalidConfig:
    enabled: bool = True
    window_ms: int = 7 * DAY_MS
    min_invalid: int = 2
    # Outcomes that are conclusive on their own (threshold 1).
    immediate_outcomes: tuple[str, ...] = ("number_invalid",)


@dataclass(frozen=True, slots=True)
class AllChannelsFailedConfig:
    """An own attempt with one of `reached_outcomes` in the window means the borrower was
    reached; every other own attempt counts as its channel tried."""

    enabled: bool = True
    window_ms: int = 7 * DAY_MS
    min_channels: int = 3
    reached_outcomes: tuple[str, ...] = REACHED_OUTCOMES


@dataclass(frozen=True, slots=True)
class UnreachableWhileOverdueConfig:
    enabled: bool = True
    min_days_past_due: int = 1


@dataclass(frozen=True, slots=True)
class ContactPolicyConfig:
    enabled: bool = True
    quiet_start_minute: int = 22 * 60  # local minutes after midnight, inclusive
    quiet_end_minute: int = 8 * 60  # local minutes after midnight, exclusive
    max_unanswered_per_contact_point_per_day: int = 6
    max_contacts_per_day: int = 3
    # Rolling call-frequency cap (US Regulation F: more than 7 calls in 7 days). None = off.
    # Counts voice attempts to the borrower's own contact points (not emergency_contact), any
    # outcome; a violation is more than `max_calls_per_window` such calls within `calls_window_ms`.
    max_calls_per_window: int | None = None
    calls_window_ms: int = 7 * DAY_MS


@dataclass(frozen=True, slots=True)
class ThirdPartyGateConfig:
    min_consecutive_failed: int = 3


@dataclass(frozen=True, slots=True)
class RulesConfig:
    consecutive_unanswered: ConsecutiveUnansweredConfig = field(
        default_factory=ConsecutiveUnansweredConfig
    )
    low_contact_rate: LowContactRateConfig = field(default_factory=LowContactRateConfig)
    active_avoidance: ActiveAvoidanceConfig = field(default_factory=ActiveAvoidanceConfig)
    contact_info_invalid: ContactInfoInvalidConfig = field(default_factory=ContactInfoInvalidConfig)
    all_channels_failed: AllChannelsFailedConfig = field(default_factory=AllChannelsFailedConfig)
    unreachable_while_overdue: UnreachableWhileOverdueConfig = field(
        default_factory=UnreachableWhileOverdueConfig
    )
    contact_policy: ContactPolicyConfig = field(default_factory=ContactPolicyConfig)


# The rules in the order docs/rules.md lists them (and the engine evaluates them).
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in fields(RulesConfig))


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the pure engine needs; `version` is the hash of the rules config."""

    grace_ms: int = 1 * HOUR_MS
    default_timezone: str = "Asia/Shanghai"
    idle_eviction_ms: int = 14 * DAY_MS
    max_attempts_kept: int = 256
    # Event times further ahead of the worker's clock are dead-lettered: one far-future event
    # would otherwise make a borrower's real events late and move the idle sweep's clock.
    max_future_skew_ms: int = 1 * HOUR_MS
    third_party_gate: ThirdPartyGateConfig = field(default_factory=ThirdPartyGateConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    version: str = "defaults"


# How long the input topics keep events (`reachwatch topics create`); dead letters carry raw
# input payloads, so by default they are kept no longer.
INPUT_RETENTION_MS = 14 * DAY_MS


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    broker: str = "kafka://127.0.0.1:9092"
    call_topic: str = "collections.call-attempts.v1"
    repayment_topic: str = "collections.repayments.v1"
    alert_topic: str = "collections.unreachability-alerts.v1"
    shadow_alert_topic: str = "collections.unreachability-alerts.shadow.v1"
    dead_letter_topic: str = "collections.dead-letters.v1"
    partitions: int = 12
    replication_factor: int = 1
    app_id: str = "reachwatch"
    repartition: bool = False
    processing_guarantee: str = "at_least_once"  # or "exactly_once"
    store: str = "memory://"  # or "rocksdb://"
    dead_letter_retention_ms: int = INPUT_RETENTION_MS
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    sasl_mechanism: str | None = None  # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # Group liveness: how soon the group notices a dead worker and hands its partitions on.
    session_timeout_ms: int = 6 * SECOND_MS
    heartbeat_interval_ms: int = 1 * SECOND_MS
    # Static membership: a worker restarted with the same id within the session timeout gets its
    # partitions back without a rebalance. Unique per worker (the pod name in the StatefulSet).
    group_instance_id: str | None = None
    # A stopping static member leaves at once (survivors take over) unless this is False.
    leave_group_on_stop: bool = True
    standby_replicas: int = 1  # other workers keeping a warm copy of each table partition


@dataclass(frozen=True, slots=True)
class WebConfig:
    port: int = 6066
    bind: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class ShadowConfig:
    """Challenger config files, run beside the rules in force without acting on anything."""

    challengers: tuple[str, ...] = ()  # paths as written; relative ones are to the config file


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole validated configuration file."""

    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    web: WebConfig = field(default_factory=WebConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    shadow: ShadowConfig = field(default_factory=ShadowConfig)
    source: str = "<defaults>"
