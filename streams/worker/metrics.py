"""The whole metrics contract: every reachwatch_ series, its type, labels and meaning.

Labels are bounded (topic, reason code, rule, severity, state, version, challenger): never
borrower_id. The Grafana dashboard and the Prometheus alert rules in deploy/ are checked against
this module and against a live scrape. Faust's own framework series come from
`setup_prometheus_sensors` with the `faust` prefix (for example `faust_topic_partition_end_offset`).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

FAUST_PREFIX = "faust"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class DomainMetrics:
    """The reachwatch_ series, created once per registry (tests pass their own registry)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.events_consumed = Counter(
            "reachwatch_events_consumed",
            "Input events read from Kafka, valid or not.",
            ["topic"],
            registry=registry,
        )
        self.events_invalid = Counter(
            "reachwatch_events_invalid",
            "Input events sent to the dead-letter topic, by reason code (schemas/README.md): "
            "rejected by decoding/validation, over a state limit, or failing to apply.",
            ["topic", "reason"],
            registry=registry,
        )
        self.events_misrouted = Counter(
            "reachwatch_events_misrouted",
            "Valid keyed input events not on the partition Kafka's default (murmur2) partitioner "
            "gives their key: dead-lettered (wrong_partition), or re-keyed when repartitioning.",
            ["topic"],
            registry=registry,
        )
        self.events_late = Counter(
            "reachwatch_events_late",
            "Events older than the borrower's newest event by more than the grace period.",
            ["topic"],
            registry=registry,
        )
        self.events_duplicate = Counter(
            "reachwatch_events_duplicate",
            "Events whose event_id the borrower's state had already seen.",
            ["topic"],
            registry=registry,
        )
        self.alerts = Counter(
            "reachwatch_alerts",
            "Alerts published to the alert topic.",
            ["rule", "severity", "state"],
            registry=registry,
        )
        self.engine_processing_seconds = Histogram(
            "reachwatch_engine_processing_seconds",
            "Time the pure engine spends on one batch of events, per event.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.event_to_alert_delay_seconds = Histogram(
            "reachwatch_event_to_alert_delay_seconds",
            "Wall-clock emit time minus the triggering event's event time.",
            buckets=_DELAY_BUCKETS,
            registry=registry,
        )
        self.borrowers_tracked = Gauge(
            "reachwatch_borrowers_tracked",
            "Borrowers with state in this worker's table partitions.",
            registry=registry,
        )
        self.state_evictions = Counter(
            "reachwatch_state_evictions",
            "Borrower states deleted after idle_eviction with no open episode.",
            registry=registry,
        )
        self.last_event_timestamp_seconds = Gauge(
            "reachwatch_last_event_timestamp_seconds",
            "Wall-clock time the worker last consumed an input event (for no-input alerts).",
            registry=registry,
        )
        self.config_info = Gauge(
            "reachwatch_config_info",
            "Always 1; the version label is the hash of the rules config in force.",
            ["version", "source"],
            registry=registry,
        )
        self.shadow_alerts = Counter(
            "reachwatch_shadow_alerts",
            "Alerts a challenger config published to the shadow alert topic.",
            ["challenger", "config_version", "rule", "severity", "state"],
            registry=registry,
        )
        self.shadow_config_info = Gauge(
            "reachwatch_shadow_config_info",
            "Always 1; the version label is the hash of the challenger's rules config in force.",
            ["challenger", "version", "source"],
            registry=registry,
        )
        self.config_reload = Counter(
            "reachwatch_config_reload",
            "Config file changes seen by the hot reload, by file (main, challenger/<name>) and "
            "result: applied, unchanged, refused (invalid; the running config stays), "
            "restart_required ([kafka], [web] or [shadow] changed; not applied).",
            ["config", "result"],
            registry=registry,
        )
        self.config_restart_required = Gauge(
            "reachwatch_config_restart_required",
            "1 while the main config file holds [kafka], [web] or [shadow] changes that only a "
            "restart applies.",
            registry=registry,
        )


METRIC_NAMES: tuple[str, ...] = (
    "reachwatch_events_consumed_total",
    "reachwatch_events_invalid_total",
    "reachwatch_events_misrouted_total",
    "reachwatch_events_late_total",
    "reachwatch_events_duplicate_total",
    "reachwatch_alerts_total",
    "reachwatch_engine_processing_seconds",
    "reachwatch_event_to_alert_delay_seconds",
    "reachwatch_borrowers_tracked",
    "reachwatch_state_evictions_total",
    "reachwatch_last_event_timestamp_seconds",
    "reachwatch_config_info",
    "reachwatch_shadow_alerts_total",
    "reachwatch_shadow_config_info",
    "reachwatch_config_reload_total",
    "reachwatch_config_restart_required",
)
# Exposed only by a worker that runs challengers.
SHADOW_METRIC_NAMES: tuple[str, ...] = (
    "reachwatch_shadow_alerts_total",
    "reachwatch_shadow_config_info",
)
