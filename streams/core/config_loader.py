"""Load `Settings` from TOML and the environment, validating everything and reporting every problem.

Where the configuration comes from, in order: the `path` argument, else the file named by the
`REACHWATCH_CONFIG` environment variable, else the built-in defaults (identical to
deploy/rules.toml). Keys missing from a file keep their defaults. Then environment variables
`REACHWATCH_<SECTION>__<KEY>` override keys of `[kafka]` and `[web]` (`REACHWATCH_KAFKA__BROKER`,
`REACHWATCH_KAFKA__PARTITIONS=24`, `REACHWATCH_WEB__PORT`; an empty value unsets an optional key).
Engine and rule keys are file-only: they decide which alerts come out, so they are hashed into
`config_version`, which every alert carries.

The layout is one table, `SCHEMA`, of sections and typed keys; a single generic walk validates a
file against it, renders it back as TOML and summarises it, so adding a key is one line.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tomllib
import zoneinfo
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from itertools import pairwise
from operator import attrgetter
from pathlib import Path
from typing import Any, ClassVar

from streams.core.config import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SECOND_MS,
    SEVERITIES,
    ActiveAvoidanceConfig,
    AllChannelsFailedConfig,
    ConsecutiveUnansweredConfig,
    ContactInfoInvalidConfig,
    ContactPolicyConfig,
    EngineConfig,
    KafkaConfig,
    LowContactRateConfig,
    RulesConfig,
    Settings,
    SeverityLevel,
    ShadowConfig,
    ThirdPartyGateConfig,
    UnreachableWhileOverdueConfig,
    WebConfig,
)
from streams.core.events import CHANNELS, OUTCOME_CLASS, OutcomeClass

CONFIG_ENV = "REACHWATCH_CONFIG"
ENV_PREFIX = "REACHWATCH_"
ENV_SECTIONS = ("kafka", "web", "shadow")
ENV_SOURCE = "environment"
DEFAULTS_SOURCE = "<defaults>"
HIDDEN = "(value hidden)"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with the configuration, located precisely enough to fix without guessing."""

    file: str  # a path, "environment" or "<defaults>"
    key_path: str  # "rules.low_contact_rate.window"; for the environment, the variable's name
    message: str
    line: int | None = None  # only for TOML syntax errors, which have no key path
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        if self.key_path:
            where += f": {self.key_path}"
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """Every problem found, so one `config check` run is enough to fix a file."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


class Invalid(Exception):
    """A value failed its check; `issues` are (key-path suffix, message), e.g. ("[1].at", ...)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.issues: list[tuple[str, str]] = [("", message)] if message else []

    @classmethod
    def of(cls, issues: Iterable[tuple[str, str]]) -> Invalid:
        error = cls()
        error.issues = list(issues)
        return error


# --- values as the user sees them -------------------------------------------------------------


def show(value: object) -> str:
    """A value as it would be written in TOML, for messages: strings quoted, booleans lower-case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def kind(value: object) -> str:
    """The TOML type name of a value, so type errors speak TOML rather than Python."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), "a date/time")


def suggestion(name: str, known: Iterable[str], spell: Callable[[str], str] = str) -> str:
    """The "did you mean" part of a message, or the list of valid names when nothing is close."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {spell(close[0])}?"
    return f"; expected one of: {', '.join(spell(k) for k in known)}"


DURATION_UNITS_MS = {"d": DAY_MS, "h": HOUR_MS, "m": MINUTE_MS, "s": SECOND_MS, "ms": 1}
DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")


def parse_duration(text: str) -> int | None:
    """`90s`, `15m`, `72h`, `7d`, `1h30m` to milliseconds; None when it is not a duration."""
    match = DURATION_RE.fullmatch(text.strip())
    if match is None or not any(match.groups()):
        return None
    return sum(
        int(n) * unit for n, unit in zip(match.groups("0"), DURATION_UNITS_MS.values(), strict=True)
    )


def format_duration(ms: int) -> str:
    """The inverse of `parse_duration`, spelled like deploy/rules.toml: "72h", "7d", "1h30m".

    Days are used only for whole weeks and more, because "72h" reads better than "3d".
    """
    whole_weeks = ms % (7 * DAY_MS) == 0
    parts = []
    for unit, size in DURATION_UNITS_MS.items():
        if unit == "d" and not whole_weeks:
            continue
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


# --- typed checks -----------------------------------------------------------------------------


class Check(ABC):
    """One key's type: TOML value -> config value (or `Invalid`), and back to TOML text."""

    @abstractmethod
    def parse(self, value: Any) -> Any: ...

    def to_toml(self, value: Any) -> str:
        return show(value)

    def from_text(self, text: str) -> Any:
        """An environment variable's text as the TOML value it stands for."""
        return text


@dataclass(frozen=True, slots=True)
class Integer(Check):
    low: int = 1
    high: int | None = None

    def parse(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"must be an integer, not {kind(value)} ({show(value)})")
        if value < self.low:
            raise Invalid(f"must be at least {self.low}, got {value}")
        if self.high is not None and value > self.high:
            raise Invalid(f"must be at most {self.high}, got {value}")
        return value

    def from_text(self, text: str) -> int:
        try:
            return int(text.strip())
        except ValueError:
            raise Invalid(f"{show(text)} is not an integer") from None


class Rate(Check):
    """A fraction 0..1; integers 0 and 1 are accepted, booleans are not."""

    def parse(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"must be a number between 0 and 1, not {kind(value)} ({show(value)})")
        if not 0 <= value <= 1:
            raise Invalid(f"{show(value)} is not a rate between 0 and 1 (0.10 means 10 %)")
        return float(value)


class Boolean(Check):
    TEXT: ClassVar[Mapping[str, bool]] = {
        **dict.fromkeys(("true", "1", "yes", "on"), True),
        **dict.fromkeys(("false", "0", "no", "off"), False),
    }

    def parse(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise Invalid(f"must be true or false, not {kind(value)} ({show(value)})")
        return value

    def from_text(self, text: str) -> bool:
        try:
            return self.TEXT[text.strip().lower()]
        except KeyError:
            raise Invalid(f"{show(text)} is not a boolean (true/false, 1/0, yes/no)") from None


@dataclass(frozen=True, slots=True)
class Text(Check):
    """A non-empty string, optionally of a given shape (`hint` names the shape in messages)."""

    pattern: re.Pattern[str] | None = None
    hint: str = ""

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise Invalid(f"must be a non-empty string, not {kind(value)} ({show(value)})")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise Invalid(f"{show(value)} is not {self.hint}")
        return value


@dataclass(frozen=True, slots=True)
class Choice(Check):
    options: tuple[str, ...]

    def parse(self, value: Any) -> str:
        if value not in self.options or not isinstance(value, str):
            raise Invalid(f"{show(value)} is not allowed" + suggestion(str(value), self.options))
        return value


@dataclass(frozen=True, slots=True)
class Duration(Check):
    """A duration string held as milliseconds; zero only where it means "no slack" (grace)."""

    allow_zero: bool = False

    def parse(self, value: Any) -> int:
        ms = parse_duration(value) if isinstance(value, str) else None
        if ms is None:
            raise Invalid(f"{show(value)} is not a duration like 72h (units d, h, m, s, ms)")
        if ms == 0 and not self.allow_zero:
            raise Invalid(f"{show(value)} must be longer than zero")
        return ms

    def to_toml(self, value: Any) -> str:
        return show(format_duration(value))


class ClockTime(Check):
    """A local "HH:MM" held as minutes after midnight."""

    PATTERN: ClassVar[re.Pattern[str]] = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")

    def parse(self, value: Any) -> int:
        match = self.PATTERN.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise Invalid(f"{show(value)} is not a time of day like 22:00 (HH:MM, 24-hour)")
        return int(match[1]) * 60 + int(match[2])

    def to_toml(self, value: Any) -> str:
        return show(f"{value // 60:02d}:{value % 60:02d}")


class TimeZone(Check):
    def parse(self, value: Any) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (KeyError, ValueError, TypeError, OSError):
            raise Invalid(f"{show(value)} is not an IANA time zone like Asia/Shanghai") from None
        return str(value)


class Levels(Check):
    """Escalation steps: `at` strictly increasing, severity never decreasing."""

    FIELDS: ClassVar[Mapping[str, Check]] = {"at": Integer(1), "severity": Choice(SEVERITIES)}
    EXAMPLE: ClassVar[str] = '{ at = 5, severity = "warning" }'

    def parse(self, value: Any) -> tuple[SeverityLevel, ...]:
        if not isinstance(value, list) or not value:
            raise Invalid(f"must be a non-empty array of tables like {self.EXAMPLE}")
        issues: list[tuple[str, str]] = []
        levels: list[tuple[str, SeverityLevel]] = []
        for index, item in enumerate(value):
            where = f"[{index}]"
            if not isinstance(item, dict):
                issues.append((where, f"must be a table like {self.EXAMPLE}, not {kind(item)}"))
                continue
            parsed = {}
            for name, sub in item.items():
                check = self.FIELDS.get(name)
                if check is None:
                    issues.append(
                        (f"{where}.{name}", "unknown key" + suggestion(name, self.FIELDS))
                    )
                    continue
                try:
                    parsed[name] = check.parse(sub)
                except Invalid as error:
                    issues.extend((f"{where}.{name}{s}", message) for s, message in error.issues)
            issues.extend((f"{where}.{name}", "is required") for name in self.FIELDS.keys() - item)
            if parsed.keys() == self.FIELDS.keys():
                levels.append((where, SeverityLevel(**parsed)))
        if not issues:
            for (_, low), (where, high) in pairwise(levels):
                if high.at <= low.at:
                    issues.append(
                        (f"{where}.at", f"{high.at} must be above the level before ({low.at})")
                    )
                if SEVERITIES.index(high.severity) < SEVERITIES.index(low.severity):
                    issues.append(
                        (
                            f"{where}.severity",
                            f"{show(high.severity)} is lower than the level before "
                            f"({show(low.severity)}); severity must not decrease",
                        )
                    )
        if issues:
            raise Invalid.of(issues)
        return tuple(level for _, level in levels)

    def to_toml(self, value: Any) -> str:
        steps = (f"{{ at = {lv.at}, severity = {show(lv.severity)} }}" for lv in value)
        return f"[{', '.join(steps)}]"


@dataclass(frozen=True, slots=True)
class Outcomes(Check):
    """A list of outcome names, optionally restricted to one outcome class."""

    only: OutcomeClass | None = None
    allow_empty: bool = True

    def parse(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise Invalid(f"must be an array of outcome names, not {kind(value)}")
        issues = []
        for index, item in enumerate(value):
            outcome_class = OUTCOME_CLASS.get(item) if isinstance(item, str) else None
            if outcome_class is None:
                issues.append(
                    (
                        f"[{index}]",
                        f"{show(item)} is not an outcome" + suggestion(str(item), OUTCOME_CLASS),
                    )
                )
            elif self.only is not None and outcome_class is not self.only:
                allowed = (o for o, c in OUTCOME_CLASS.items() if c is self.only)
                issues.append(
                    (
                        f"[{index}]",
                        f"{show(item)} is a {outcome_class} outcome; only {self.only} outcomes "
                        f"({', '.join(allowed)}) are allowed here",
                    )
                )
        if not issues and len(set(value)) != len(value):
            issues.append(("", "lists an outcome more than once"))
        if not issues and not value and not self.allow_empty:
            issues.append(("", "must name at least one outcome"))
        if issues:
            raise Invalid.of(issues)
        return tuple(value)


def run_outcome_checks(config: ConsecutiveUnansweredConfig) -> Fix:
    """An outcome cannot both end the run and extend it."""
    both = [o for o in config.unanswered_outcomes if o in config.reached_outcomes]
    if both:
        yield (
            "unanswered_outcomes",
            f"{', '.join(both)} also in reached_outcomes; an outcome either ends the run "
            "or extends it",
        )


CHALLENGER_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


def challenger_name(path: str) -> str:
    """A challenger is named by its file's stem: it names its table, so it must stay stable."""
    return Path(path).stem


def challenger_name_problem(path: str) -> str | None:
    """Why the file's stem cannot name a challenger, if it cannot."""
    name = challenger_name(path)
    if CHALLENGER_NAME.fullmatch(name):
        return None
    return (
        f"the file name {show(name)} must use only letters, digits, '.', '_' and '-' "
        "(it names the challenger's table)"
    )


class ConfigFiles(Check):
    """Challenger config files: their stems name their state tables, so stems are unique."""

    def parse(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise Invalid(f"must be an array of file paths, not {kind(value)}")
        issues = []
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                issues.append((f"[{index}]", f"{show(item)} is not a file path"))
                continue
            name, problem = challenger_name(item), challenger_name_problem(item)
            if problem is not None:
                issues.append((f"[{index}]", problem))
            elif name in seen:
                issues.append((f"[{index}]", f"{show(item)} has the same file name as "
                               f"[{seen[name]}]; challengers are named by file name"))  # fmt: skip
            seen.setdefault(name, index)
        if issues:
            raise Invalid.of(issues)
        return tuple(value)

    def to_toml(self, value: Any) -> str:
        return "[" + ", ".join(show(path) for path in value) + "]"

    def from_text(self, text: str) -> list[str]:
        """A comma-separated list; an empty variable means no challengers."""
        return [part.strip() for part in text.split(",") if part.strip()]


# --- the schema -------------------------------------------------------------------------------

HOST_PORT = r"[A-Za-z0-9._-]+(?::\d{1,5})?"
BROKER = re.compile(rf"(?:kafka://)?{HOST_PORT}(?:[;,](?:kafka://)?{HOST_PORT})*")
TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
BROKER_TEXT = Text(BROKER, "a broker address like kafka://127.0.0.1:9092 (several: ;-separated)")
TOPIC_TEXT = Text(TOPIC, "a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)")
INSTANCE_ID_TEXT = Text(TOPIC, "a group instance id (letters, digits, '.', '_', '-'; at most 249)")
COUNT = Integer(1)


@dataclass(frozen=True, slots=True)
class Key:
    """A TOML key: its check and the dataclass field it fills (`attr`, default: the key's name)."""

    check: Check
    attr: str = ""
    optional: bool = False  # may be absent (None); an empty environment value unsets it
    secret: bool = False  # never shown in messages or output


Fix = Iterable[tuple[str, str]]  # (key path relative to the section, message)


@dataclass(frozen=True, slots=True)
class Section:
    """A TOML table: its keys, sub-tables, and checks that relate several of its values."""

    build: Callable[..., Any]
    keys: Mapping[str, Key] = field(default_factory=dict)
    children: Mapping[str, Section] = field(default_factory=dict)
    checks: tuple[Callable[[Any], Fix], ...] = ()
    item: str = "key"  # what an unknown name is called in messages: key, rule, section
    attr: str = ""  # where the built object sits on its parent (dotted), default: the table's name

    def field_name(self, key_name: str) -> str:
        return self.keys[key_name].attr or key_name


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SASL_KEYS = ("sasl_mechanism", "sasl_username", "sasl_password")
SSL_KEYS = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
SECURITY_KEYS = ("security_protocol", *SASL_KEYS, *SSL_KEYS)
TOPIC_KEYS = (
    "call_topic",
    "repayment_topic",
    "alert_topic",
    "shadow_alert_topic",
    "dead_letter_topic",
)
# What Kafka brokers accept by default (group.min/max.session.timeout.ms); a JoinGroup outside
# is refused with INVALID_SESSION_TIMEOUT, which the worker would only retry.
SESSION_TIMEOUT_RANGE_MS = (6 * SECOND_MS, 30 * MINUTE_MS)


def kafka_checks(kafka: KafkaConfig) -> Fix:
    """SASL needs all its credentials; settings the protocol would ignore are mistakes."""
    protocol = kafka.security_protocol
    uses = {"SASL": protocol.startswith("SASL_"), "SSL": protocol.endswith("SSL")}
    for family, names in (("SASL", SASL_KEYS), ("SSL", SSL_KEYS)):
        for name in names:
            value = getattr(kafka, name)
            if value is not None and not uses[family]:
                yield name, f"is set but security_protocol {protocol} does not use {family}"
            elif value is None and family == "SASL" and uses[family]:
                yield name, f"is required when security_protocol is {protocol}"
    if uses["SSL"] and kafka.ssl_keyfile is not None and kafka.ssl_certfile is None:
        yield "ssl_keyfile", "is set without ssl_certfile"
    for index, later in enumerate(TOPIC_KEYS):
        for earlier in TOPIC_KEYS[:index]:
            if getattr(kafka, earlier) == getattr(kafka, later):
                yield later, f"is the same topic as {earlier}"
    yield from liveness_checks(kafka)


def liveness_checks(kafka: KafkaConfig) -> Fix:
    """The session timeout within what brokers accept; heartbeats often enough that one lost
    heartbeat does not end a session (Kafka's advice: at most a third of it)."""
    session, heartbeat = kafka.session_timeout_ms, kafka.heartbeat_interval_ms
    low, high = SESSION_TIMEOUT_RANGE_MS
    if not low <= session <= high:
        yield (
            "session_timeout",
            f"{format_duration(session)} is outside what Kafka brokers accept by default "
            f"({format_duration(low)} to {format_duration(high)}, "
            "group.min/max.session.timeout.ms)",
        )
    if not kafka.leave_group_on_stop and kafka.group_instance_id is None:
        yield "leave_group_on_stop", "false needs group_instance_id (dynamic members always leave)"
    if 3 * heartbeat > session:
        yield (
            "heartbeat_interval",
            f"{format_duration(heartbeat)} is more than a third of session_timeout "
            f"({format_duration(session)}): one lost heartbeat could end the session",
        )


def settings_checks(settings: Settings) -> Fix:
    """State must outlive every window it serves, and the buffer must hold every count asked for."""
    engine = settings.engine
    values = list(rule_values(engine.rules))
    longest, window = max((v, path) for path, check, v in values if isinstance(check, Duration))
    if longest > engine.idle_eviction_ms:
        yield (
            "engine.idle_eviction",
            f"{format_duration(engine.idle_eviction_ms)} is shorter than {window} "
            f"({format_duration(longest)}): state would be evicted while still in a window",
        )
    kept = engine.max_attempts_kept
    for path, _, value in values:
        if path.rpartition(".")[2] in BUFFER_COUNTS and value > kept:
            yield path, f"{value} can never be reached: engine.max_attempts_kept is {kept}"


def rule_values(rules: RulesConfig) -> Iterator[tuple[str, Check, Any]]:
    """(key path, check, value) of every rule key, for checks that span rules."""
    for rule_name, section in SCHEMA.children["rules"].children.items():
        config = getattr(rules, rule_name)
        for key_name, key in section.keys.items():
            value = getattr(config, section.field_name(key_name))
            yield f"rules.{rule_name}.{key_name}", key.check, value


BUFFER_COUNTS = ("min_attempts", "min_avoidance", "min_invalid")


def assemble_settings(**parts: Any) -> Settings:
    """The root table: `[rules]` sits at the top of the file but belongs to the engine."""
    engine = parts.get("engine", EngineConfig())
    return Settings(
        kafka=parts.get("kafka", KafkaConfig()),
        web=parts.get("web", WebConfig()),
        engine=replace(engine, rules=parts.get("rules", RulesConfig())),
        shadow=parts.get("shadow", ShadowConfig()),
    )


def rule(
    build: Callable[..., Any], checks: tuple[Callable[[Any], Fix], ...] = (), **keys: Key
) -> Section:
    """A `[rules.<name>]` table: every rule can be switched off with `enabled = false`."""
    return Section(build, {"enabled": Key(Boolean()), **keys}, checks=checks)


WINDOW = Key(Duration(), "window_ms")
REACHED = Key(Outcomes(allow_empty=False))
OPTIONAL_TEXT = Key(Text(), optional=True)

SCHEMA = Section(
    assemble_settings,
    item="section",
    checks=(settings_checks,),
    children={
        "kafka": Section(
            KafkaConfig,
            checks=(kafka_checks,),
            keys={
                "broker": Key(BROKER_TEXT),
                "call_topic": Key(TOPIC_TEXT),
                "repayment_topic": Key(TOPIC_TEXT),
                "alert_topic": Key(TOPIC_TEXT),
                "shadow_alert_topic": Key(TOPIC_TEXT),
                "dead_letter_topic": Key(TOPIC_TEXT),
                "partitions": Key(COUNT),
                "replication_factor": Key(COUNT),
                "app_id": Key(TOPIC_TEXT),
                "repartition": Key(Boolean()),
                "processing_guarantee": Key(Choice(("at_least_once", "exactly_once"))),
                "store": Key(Choice(("memory://", "rocksdb://"))),
                "dead_letter_retention": Key(Duration(), "dead_letter_retention_ms"),
                "security_protocol": Key(Choice(SECURITY_PROTOCOLS)),
                "sasl_mechanism": Key(Choice(SASL_MECHANISMS), optional=True),
                "sasl_username": OPTIONAL_TEXT,
                "sasl_password": Key(Text(), optional=True, secret=True),
                "ssl_cafile": OPTIONAL_TEXT,
                "ssl_certfile": OPTIONAL_TEXT,
                "ssl_keyfile": OPTIONAL_TEXT,
                "session_timeout": Key(Duration(), "session_timeout_ms"),
                "heartbeat_interval": Key(Duration(), "heartbeat_interval_ms"),
                "group_instance_id": Key(INSTANCE_ID_TEXT, optional=True),
                "leave_group_on_stop": Key(Boolean()),
                "standby_replicas": Key(Integer(0)),
            },
        ),
        "web": Section(WebConfig, keys={"port": Key(Integer(1, 65535)), "bind": Key(Text())}),
        "shadow": Section(ShadowConfig, keys={"challengers": Key(ConfigFiles())}),
        "engine": Section(
            EngineConfig,
            keys={
                "grace": Key(Duration(allow_zero=True), "grace_ms"),
                "default_timezone": Key(TimeZone()),
                "idle_eviction": Key(Duration(), "idle_eviction_ms"),
                "max_attempts_kept": Key(COUNT),
                "max_future_skew": Key(Duration(allow_zero=True), "max_future_skew_ms"),
            },
            children={
                "third_party_gate": Section(
                    ThirdPartyGateConfig, keys={"min_consecutive_failed": Key(COUNT)}
                )
            },
        ),
        "rules": Section(
            RulesConfig,
            item="rule",
            attr="engine.rules",
            children={
                "consecutive_unanswered": rule(
                    ConsecutiveUnansweredConfig,
                    checks=(run_outcome_checks,),
                    levels=Key(Levels()),
                    reached_outcomes=REACHED,
                    unanswered_outcomes=Key(Outcomes(allow_empty=False)),
                ),
                "low_contact_rate": rule(
                    LowContactRateConfig,
                    window=WINDOW,
                    min_attempts=Key(COUNT),
                    max_contact_rate=Key(Rate()),
                ),
                "active_avoidance": rule(
                    ActiveAvoidanceConfig, window=WINDOW, min_avoidance=Key(COUNT)
                ),
                "contact_info_invalid": rule(
                    ContactInfoInvalidConfig,
                    window=WINDOW,
                    min_invalid=Key(COUNT),
                    immediate_outcomes=Key(Outcomes(OutcomeClass.INVALID)),
                ),
                "all_channels_failed": rule(
                    AllChannelsFailedConfig,
                    window=WINDOW,
                    min_channels=Key(Integer(1, len(CHANNELS))),
                    reached_outcomes=REACHED,
                ),
                "unreachable_while_overdue": rule(
                    UnreachableWhileOverdueConfig, min_days_past_due=Key(COUNT)
                ),
                "contact_policy": rule(
                    ContactPolicyConfig,
                    quiet_hours_start=Key(ClockTime(), "quiet_start_minute"),
                    quiet_hours_end=Key(ClockTime(), "quiet_end_minute"),
                    max_unanswered_per_contact_point_per_day=Key(COUNT),
                    max_contacts_per_day=Key(COUNT),
                    max_calls_per_window=Key(COUNT, optional=True),
                    calls_window=Key(Duration(), "calls_window_ms"),
                ),
            },
        ),
    },
)


# --- loading ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Reporter:
    """Collects problems, naming the environment variable when that is where a value came from."""

    file: str
    origins: dict[str, str] = field(default_factory=dict)  # key path -> environment variable
    problems: list[ConfigProblem] = field(default_factory=list)

    def __call__(self, key_path: str, message: str) -> None:
        variable = self.origins.get(key_path)
        if variable is None:
            self.problems.append(ConfigProblem(self.file, key_path, message))
        else:
            self.problems.append(ConfigProblem(ENV_SOURCE, variable, message))


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def build(section: Section, table: Mapping[str, Any], path: str, report: Reporter) -> Any:
    """Check one table against its section and build its object; relations are checked last."""
    found_before = len(report.problems)
    parts: dict[str, Any] = {}
    for name, value in table.items():
        key_path = join(path, name)
        if name in section.children:
            if isinstance(value, dict):
                parts[name] = build(section.children[name], value, key_path, report)
            else:
                report(key_path, f"must be a table ([{key_path}]), not {kind(value)}")
        elif name in section.keys:
            key = section.keys[name]
            try:
                parts[section.field_name(name)] = key.check.parse(value)
            except Invalid as error:
                for suffix, message in error.issues:
                    shown = message.replace(show(value), HIDDEN) if key.secret else message
                    report(key_path + suffix, shown)
        else:
            known = [*section.keys, *section.children]
            report(key_path, f"unknown {section.item}" + suggestion(name, known))
    built = section.build(**parts)
    if len(report.problems) == found_before:
        for relative, message in (fix for check in section.checks for fix in check(built)):
            report(join(path, relative), message)
    return built


def read_toml(path: Path, report: Reporter) -> dict[str, Any]:
    """The parsed file, or an empty table after reporting why it could not be read."""
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        report("", f"cannot read the file: {error.strerror or error}")
    except UnicodeDecodeError:
        report("", "is not UTF-8 text")
    except tomllib.TOMLDecodeError as error:
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", str(error))
        message = str(error)[: where.start()] if where else str(error)
        line, column = (int(where[1]), int(where[2])) if where else (None, None)
        report.problems.append(
            ConfigProblem(report.file, "", f"invalid TOML: {message}", line, column)
        )
    return {}


def env_variable(section_name: str, key_name: str) -> str:
    return f"{ENV_PREFIX}{section_name}__{key_name}".upper()


def apply_environment(env: Mapping[str, str], raw: dict[str, Any], report: Reporter) -> None:
    """Put `REACHWATCH_<SECTION>__<KEY>` values into the raw tables, remembering their origin."""
    for variable, text in sorted(env.items()):
        if not variable.startswith(ENV_PREFIX) or "__" not in variable:
            continue
        section_name, _, key_name = variable.removeprefix(ENV_PREFIX).lower().partition("__")
        problem = ConfigProblem(ENV_SOURCE, variable, "")
        if section_name not in ENV_SECTIONS:
            message = (
                "only [kafka], [web] and [shadow] keys can be set from the environment; engine and "
            )
            report.problems.append(replace(problem, message=message + "rules belong in the file"))
            continue
        section = SCHEMA.children[section_name]
        key = section.keys.get(key_name)
        if key is None:
            hint = suggestion(key_name, section.keys, partial(env_variable, section_name))
            report.problems.append(replace(problem, message=f"unknown {section_name} key{hint}"))
            continue
        table = raw.setdefault(section_name, {})
        if not isinstance(table, dict):
            continue  # reported as "must be a table" by `build`
        try:
            value = None if key.optional and not text else key.check.from_text(text)
        except Invalid as error:
            message = error.issues[0][1]
            message = message.replace(show(text), HIDDEN) if key.secret else message
            report.problems.append(replace(problem, message=message))
            continue
        if value is None:
            table.pop(key_name, None)
        else:
            table[key_name] = value
            report.origins[f"{section_name}.{key_name}"] = variable


def config_version(engine: EngineConfig) -> str:
    """A short hash of what decides the alerts (engine and rules, not Kafka, web or the skew).

    It is computed from the validated values, so key order, comments and spelling (`72h` or `3d`)
    do not matter, and moving to another broker does not look like a rules change downstream.
    """
    canonical = asdict(engine)
    del canonical["version"]
    # Which events are accepted at all, not what the rules make of them: leaving it out keeps
    # the version (and so every alert) unchanged by a key that only ever dead-letters.
    del canonical["max_future_skew_ms"]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def kafka_security_problems(kafka: KafkaConfig) -> list[ConfigProblem]:
    """The `[kafka]` security keys of a `KafkaConfig` built in code, checked exactly as a loaded
    file's are, so the clients validate their settings with the loader's rules, not a copy."""
    section = SCHEMA.children["kafka"]
    table = {key: value for key in SECURITY_KEYS if (value := getattr(kafka, key)) is not None}
    report = Reporter(DEFAULTS_SOURCE)
    build(section, table, "kafka", report)
    return report.problems


def load_settings(path: str | Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """The validated settings; raises `ConfigError` listing every problem found.

    `path` None means the file named by REACHWATCH_CONFIG, else the built-in defaults;
    `env` None means `os.environ` (pass `{}` to ignore the environment).
    """
    env = os.environ if env is None else env
    if path is None and env.get(CONFIG_ENV):
        path = env[CONFIG_ENV]
    report = Reporter(DEFAULTS_SOURCE if path is None else str(path))
    raw = {} if path is None else read_toml(Path(path), report)
    apply_environment(env, raw, report)
    settings: Settings = build(SCHEMA, raw, "", report)
    if report.problems:
        raise ConfigError(report.problems)
    engine = replace(settings.engine, version=config_version(settings.engine))
    return replace(settings, engine=engine, source=report.file)


# --- output -----------------------------------------------------------------------------------


def walk(section: Section, obj: Any, path: str = "") -> Iterator[tuple[str, Section, Any]]:
    """Every table with its path and built object, parents first (the order TOML wants)."""
    yield path, section, obj
    for name, child in section.children.items():
        yield from walk(child, attrgetter(child.attr or name)(obj), join(path, name))


def key_lines(section: Section, obj: Any) -> Iterator[tuple[str, str]]:
    """(key, TOML line) for every key; unset and secret values become comments."""
    for name, key in section.keys.items():
        value = getattr(obj, section.field_name(name))
        if value is None:
            yield name, f"# {name} is not set"
        elif key.secret:
            yield name, f"# {name} is set (hidden)"
        else:
            yield name, f"{name} = {key.check.to_toml(value)}"


def render_toml(settings: Settings) -> str:
    """The effective configuration as a loadable TOML file (secrets left out)."""
    lines = [f"# source: {settings.source}", f"# config_version: {settings.engine.version}"]
    for path, section, obj in walk(SCHEMA, settings):
        if section.keys:
            lines += ["", f"[{path}]"]
        lines += [line for _, line in key_lines(section, obj)]
    return "\n".join(lines) + "\n"


SUMMARY_TABLES = ("engine", "rules")  # what decides alerts; `config show` prints the rest


def summary(settings: Settings) -> str:
    """What `config check` prints for a valid file: version, enabled rules, thresholds."""
    rules = settings.engine.rules
    enabled = [name for name in SCHEMA.children["rules"].children if getattr(rules, name).enabled]
    total = len(SCHEMA.children["rules"].children)
    lines = [
        f"{settings.source}: valid, config_version {settings.engine.version}, "
        f"{len(enabled)} of {total} rules enabled"
    ]
    for path, section, obj in walk(SCHEMA, settings):
        pairs = [
            line.replace(" = ", "=", 1)
            for name, line in key_lines(section, obj)
            if not line.startswith("#") and name != "enabled"
        ]
        if pairs and path.partition(".")[0] in SUMMARY_TABLES:
            state = "" if getattr(obj, "enabled", True) else " (disabled)"
            lines.append(f"  {path}{state}: {' '.join(pairs)}")
    return "\n".join(lines)
