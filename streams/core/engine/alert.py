"""The alert.v1 record: what the engine emits and downstream services consume.

The engine builds `Alert` values without wall-clock time; the shell adds `emitted_at` when it
encodes, so replay and the worker produce byte-identical bodies apart from that one field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from streams.core.config import DAY_MS

ALERT_SCHEMA = "alert.v1"
UNREACHABILITY = "unreachability"
COMPLIANCE = "compliance"
MAX_EVIDENCE_EVENT_IDS = 10


# Within ±2**32 s the float division below is exact to the millisecond; beyond it (before 1834,
# after 2106) only the datetime path reproduces the historical output.
_EXACT_MS = 2**32 * 1000
_CACHE_LIMIT = 100_000
_day_prefixes: dict[int, str] = {}


def _format_time_slow(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def format_time(ms: int) -> str:
    """RFC 3339 in UTC with millisecond precision, e.g. 2026-11-29T09:00:00.000Z.

    Several per alert: the date part is cached per day and the time of day is integer
    arithmetic, rather than a datetime and strftime each time."""
    if not -_EXACT_MS <= ms < _EXACT_MS:
        return _format_time_slow(ms)
    day, in_day = divmod(ms, DAY_MS)
    prefix = _day_prefixes.get(day)
    if prefix is None:
        if len(_day_prefixes) >= _CACHE_LIMIT:
            _day_prefixes.clear()
        prefix = _day_prefixes[day] = _format_time_slow(day * DAY_MS)[:11]
    seconds, millis = divmod(in_day, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def alert_id_for(borrower_id: str, rule: str, episode_key: str, state: str, severity: str) -> str:
    """Deterministic id: a redelivered or replayed transition keeps its id."""
    material = "\x1f".join((borrower_id, rule, episode_key, state, severity)).encode()
    return hashlib.blake2b(material, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Alert:
    borrower_id: str
    rule: str
    category: str
    state: str  # raised | escalated | resolved
    severity: str  # info | warning | critical
    reason: str
    episode_key: str  # the event_id that opened the episode (plus a suffix where a rule needs one)
    event_time_ms: int
    config_version: str
    recommended_actions: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    loan_ids: tuple[str, ...] = ()
    days_past_due: int | None = None

    @property
    def alert_id(self) -> str:
        return alert_id_for(
            self.borrower_id, self.rule, self.episode_key, self.state, self.severity
        )

    def to_record(self, emitted_at_ms: int) -> dict[str, Any]:
        return {
            "schema": ALERT_SCHEMA,
            "alert_id": self.alert_id,
            "borrower_id": self.borrower_id,
            "rule": self.rule,
            "category": self.category,
            "state": self.state,
            "severity": self.severity,
            "reason": self.reason,
            "evidence": self.evidence,
            "recommended_actions": list(self.recommended_actions),
            "loan_ids": list(self.loan_ids),
            "days_past_due": self.days_past_due,
            "episode_id": self.episode_key,
            "event_time": format_time(self.event_time_ms),
            "emitted_at": format_time(emitted_at_ms),
            "config_version": self.config_version,
        }

    def encode(self, emitted_at_ms: int) -> bytes:
        return orjson.dumps(self.to_record(emitted_at_ms))
