"""Config loading: shipped file, every kind of problem with its key path, env, config_version."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.config import (
    CONTACT_OUTCOMES,
    DAY_MS,
    HOUR_MS,
    INPUT_RETENTION_MS,
    NON_CONTACT_OUTCOMES,
    Settings,
)
from streams.core.config_loader import (
    CONFIG_ENV,
    ConfigError,
    ConfigProblem,
    config_version,
    format_duration,
    load_settings,
    parse_duration,
    render_toml,
)

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "deploy" / "rules.toml"
US_PRESET = ROOT / "deploy" / "presets" / "us.toml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own REACHWATCH_* variables must not leak into these tests."""
    for name in [n for n in os.environ if n.startswith("REACHWATCH_")]:
        monkeypatch.delenv(name)


Write = Callable[[str], Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write TOML text to a file and return its path."""

    def _write(text: str) -> Path:
        path = tmp_path / "site.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def problems_of(path: Path | None, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env or {})
    return caught.value.problems


def as_defaults(loaded: Settings) -> Settings:
    """`loaded` with the fields that say where it came from reset, to compare with `Settings()`."""
    return replace(
        loaded, source=Settings().source, engine=replace(loaded.engine, version="defaults")
    )


# --- valid configurations ---------------------------------------------------------------------


def test_shipped_file_is_exactly_the_built_in_defaults() -> None:
    assert as_defaults(load_settings(SHIPPED, {})) == Settings()


def test_no_path_means_built_in_defaults_with_a_version() -> None:
    loaded = load_settings(None, {})
    assert as_defaults(loaded) == Settings()
    assert loaded.source == "<defaults>"
    assert re.fullmatch(r"[0-9a-f]{12}", loaded.engine.version)
    assert loaded.engine.version == load_settings(SHIPPED, {}).engine.version


def test_config_env_variable_names_the_file() -> None:
    loaded = load_settings(None, {CONFIG_ENV: str(US_PRESET)})
    assert loaded.source == str(US_PRESET)
    assert loaded.engine.rules.contact_policy.max_calls_per_window == 7


def test_us_preset_changes_only_what_it_says() -> None:
    policy = load_settings(US_PRESET, {}).engine.rules.contact_policy
    assert (policy.quiet_start_minute, policy.quiet_end_minute) == (21 * 60, 8 * 60)
    assert (policy.max_calls_per_window, policy.calls_window_ms) == (7, 7 * DAY_MS)
    assert (
        policy.max_contacts_per_day == Settings().engine.rules.contact_policy.max_contacts_per_day
    )


def test_legacy_preset_restores_the_contact_class_as_the_only_reach() -> None:
    rules = load_settings(ROOT / "deploy" / "presets" / "legacy.toml", {}).engine.rules
    assert rules.consecutive_unanswered.reached_outcomes == CONTACT_OUTCOMES
    assert rules.consecutive_unanswered.unanswered_outcomes == NON_CONTACT_OUTCOMES
    assert rules.all_channels_failed.reached_outcomes == CONTACT_OUTCOMES
    defaults = Settings().engine.rules
    assert replace(rules, consecutive_unanswered=defaults.consecutive_unanswered,
                   all_channels_failed=defaults.all_channels_failed) == defaults  # fmt: skip


def test_partial_file_overrides_only_its_keys(write: Write) -> None:
    loaded = load_settings(
        write(
            """
            [engine]
            grace = "0s"
            [rules.low_contact_rate]
            window = "1h30m"
            max_contact_rate = 0
            [rules.consecutive_unanswered]
            levels = [{ at = 3, severity = "info" }, { at = 4, severity = "info" }]
            [rules.contact_info_invalid]
            enabled = false
            immediate_outcomes = ["number_invalid", "number_suspended"]
            """
        ),
        {},
    )
    rules = loaded.engine.rules
    assert loaded.engine.grace_ms == 0
    assert rules.low_contact_rate.window_ms == 90 * 60_000
    assert rules.low_contact_rate.max_contact_rate == 0.0
    assert rules.low_contact_rate.min_attempts == 6
    assert [(lv.at, lv.severity) for lv in rules.consecutive_unanswered.levels] == [
        (3, "info"),
        (4, "info"),
    ]
    assert not rules.contact_info_invalid.enabled
    assert rules.contact_info_invalid.immediate_outcomes == ("number_invalid", "number_suspended")
    assert loaded.kafka == Settings().kafka


def test_outcome_settings_load_and_change_the_version(write: Write) -> None:
    loaded = load_settings(
        write(
            """
            [rules.consecutive_unanswered]
            reached_outcomes = ["answered", "replied", "read"]
            unanswered_outcomes = ["no_answer", "busy", "powered_off"]
            [rules.all_channels_failed]
            reached_outcomes = ["answered", "replied", "read", "delivered"]
            """
        ),
        {},
    )
    rules = loaded.engine.rules
    assert rules.consecutive_unanswered.reached_outcomes == ("answered", "replied", "read")
    assert rules.consecutive_unanswered.unanswered_outcomes == ("no_answer", "busy", "powered_off")
    assert rules.all_channels_failed.reached_outcomes == (
        "answered",
        "replied",
        "read",
        "delivered",
    )
    assert loaded.engine.version != load_settings(None, {}).engine.version


def test_equal_quiet_hours_switch_quiet_hours_off(write: Write) -> None:
    """As the engine reads them: [start, end) is empty, the other policy checks stay on."""
    path = write("[rules.contact_policy]\nquiet_hours_start = '09:00'\nquiet_hours_end = '09:00'")
    policy = load_settings(path, {}).engine.rules.contact_policy
    assert policy.quiet_start_minute == policy.quiet_end_minute == 9 * 60


def test_sasl_with_all_credentials_is_valid(write: Write) -> None:
    path = write('[kafka]\nsecurity_protocol = "SASL_SSL"\nsasl_mechanism = "PLAIN"\n')
    env = {"REACHWATCH_KAFKA__SASL_USERNAME": "svc", "REACHWATCH_KAFKA__SASL_PASSWORD": "s3cret"}
    kafka = load_settings(path, env).kafka
    assert (kafka.sasl_username, kafka.sasl_password) == ("svc", "s3cret")
    assert "s3cret" not in repr(load_settings(path, env))


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("90s", 90_000),
        ("15m", 900_000),
        ("72h", 72 * HOUR_MS),
        ("7d", 7 * DAY_MS),
        ("1h30m", 90 * 60_000),
        ("250ms", 250),
        ("1d12h", 36 * HOUR_MS),
    ],
)
def test_duration_spellings(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["soon", "", "72", "h", "-1h", "1.5h", "30m1h", "1 h", "7D"])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


@given(st.integers(min_value=0, max_value=400 * DAY_MS))
def test_formatted_durations_parse_back(ms: int) -> None:
    assert parse_duration(format_duration(ms)) == ms


@pytest.mark.parametrize("path", [SHIPPED, US_PRESET])
def test_rendered_toml_loads_back_to_the_same_settings(write: Write, path: Path) -> None:
    loaded = load_settings(path, {})
    again = load_settings(write(render_toml(loaded)), {})
    assert replace(again, source=loaded.source) == loaded


# --- problems, one kind at a time -------------------------------------------------------------

LEVELS = "rules.consecutive_unanswered"
LOW_RATE = "rules.low_contact_rate"
INVALID = "rules.contact_info_invalid"
POLICY = "rules.contact_policy"
CASES = [
    # (table, its body, the key reported (relative to the table unless it starts with rules. or
    # engine.), a fragment of the message)
    ("kafak", "broker = 'x:1'", "", "unknown section; did you mean kafka?"),
    (LOW_RATE, "windw = '1h'", "windw", "did you mean window?"),
    ("rules.low_contact", "enabled = true", "", "unknown rule; did you mean low_contact_rate?"),
    ("engine", "zzz = 1", "zzz", "expected one of: default_timezone, grace"),
    ("kafka", "partitions = true", "partitions", "must be an integer, not a boolean"),
    ("kafka", "partitions = '12'", "partitions", 'must be an integer, not a string ("12")'),
    ("kafka", "partitions = 0", "partitions", "must be at least 1, got 0"),
    ("kafka", "replication_factor = 1.5", "replication_factor", "not a float"),
    ("kafka", "repartition = 'yes'", "repartition", "must be true or false"),
    ("kafka", "broker = 'http://b:9092'", "broker", "is not a broker address"),
    ("kafka", "broker = ''", "broker", "must be a non-empty string"),
    ("kafka", "alert_topic = 'my alerts'", "alert_topic", "is not a Kafka topic name"),
    ("kafka", "processing_guarantee = 'exactly-once'", "processing_guarantee", "exactly_once?"),
    ("kafka", "store = 'rocksdb'", "store", "did you mean rocksdb://?"),
    ("kafka", "security_protocol = 'TLS'", "security_protocol", '"TLS" is not allowed'),
    ("kafka", "sasl_username = 'svc'", "sasl_username", "PLAINTEXT does not use SASL"),
    ("kafka", "ssl_cafile = 'ca.pem'", "ssl_cafile", "PLAINTEXT does not use SSL"),
    (
        "kafka",
        "security_protocol = 'SSL'\nssl_keyfile = 'k'",
        "ssl_keyfile",
        "without ssl_certfile",
    ),
    (
        "kafka",
        "alert_topic = 'collections.call-attempts.v1'",
        "alert_topic",
        "same topic as call_topic",
    ),
    ("kafka", "session_timeout = '5s'", "session_timeout", "outside what Kafka brokers accept"),
    ("kafka", "session_timeout = '1h'", "session_timeout", "6s to 30m"),
    ("kafka", "session_timeout = 10", "session_timeout", "10 is not a duration like 72h"),
    ("kafka", "heartbeat_interval = '3s'", "heartbeat_interval", "more than a third of"),
    ("kafka", "heartbeat_interval = '0s'", "heartbeat_interval", "must be longer than zero"),
    ("kafka", "group_instance_id = 'pod 0'", "group_instance_id", "is not a group instance id"),
    ("kafka", "standby_replicas = -1", "standby_replicas", "must be at least 0, got -1"),
    ("kafka", "leave_group_on_stop = false", "leave_group_on_stop", "needs group_instance_id"),
    ("web", "port = 70000", "port", "must be at most 65535, got 70000"),
    ("engine", "grace = 3600", "grace", "3600 is not a duration like 72h"),
    ("engine", "default_timezone = 'Mars/Base'", "default_timezone", "not an IANA time zone"),
    ("engine", "idle_eviction = '0s'", "idle_eviction", "must be longer than zero"),
    ("engine.third_party_gate", "min_consecutive_failed = 0", "min_consecutive_failed", "1"),
    (LOW_RATE, "window = 'soon'", "window", '"soon" is not a duration like 72h'),
    (LOW_RATE, "max_contact_rate = 1.5", "max_contact_rate", "not a rate between 0 and 1"),
    (LOW_RATE, "max_contact_rate = true", "max_contact_rate", "not a boolean"),
    (LOW_RATE, "enabled = 1", "enabled", "must be true or false"),
    ("rules.active_avoidance", "min_avoidance = 0", "min_avoidance", "at least 1"),
    ("rules.all_channels_failed", "min_channels = 5", "min_channels", "at most 4"),
    ("rules.unreachable_while_overdue", "min_days_past_due = 0", "min_days_past_due", "least 1"),
    (LEVELS, "levels = []", "levels", "non-empty array"),
    (LEVELS, "levels = [{ at = 5, severity = 'fatal' }]", "levels[0].severity", "not allowed"),
    (LEVELS, "levels = [{ at = 5 }]", "levels[0].severity", "is required"),
    (LEVELS, "levels = [{ at = 5, severity = 'info', x = 1 }]", "levels[0].x", "unknown key"),
    (LEVELS, "levels = [5]", "levels[0]", "must be a table"),
    (
        LEVELS,
        "levels = [{ at = 5, severity = 'info' }, { at = 5, severity = 'info' }]",
        "levels[1].at",
        "must be above the level before (5)",
    ),
    (
        LEVELS,
        "levels = [{ at = 5, severity = 'critical' }, { at = 9, severity = 'warning' }]",
        "levels[1].severity",
        "severity must not decrease",
    ),
    (INVALID, "immediate_outcomes = ['busy']", "immediate_outcomes[0]", '"busy" is a no_response'),
    (
        INVALID,
        "immediate_outcomes = ['number_invalidd']",
        "immediate_outcomes[0]",
        "number_invalid?",
    ),
    (
        INVALID,
        "immediate_outcomes = ['bounced', 'bounced']",
        "immediate_outcomes",
        "more than once",
    ),
    (LEVELS, "reached_outcomes = []", "reached_outcomes", "at least one outcome"),
    (LEVELS, "unanswered_outcomes = ['reed']", "unanswered_outcomes[0]", "did you mean read?"),
    (LEVELS, "reached_outcomes = 'read'", "reached_outcomes", "must be an array"),
    (
        LEVELS,
        "reached_outcomes = ['answered', 'read']\nunanswered_outcomes = ['no_answer', 'read']",
        "unanswered_outcomes",
        "read also in reached_outcomes",
    ),
    (
        "rules.all_channels_failed",
        "reached_outcomes = ['answered', 'answered']",
        "reached_outcomes",
        "more than once",
    ),
    (POLICY, "quiet_hours_start = '25:00'", "quiet_hours_start", "not a time of day like 22:00"),
    (POLICY, "quiet_hours_end = '8:00'", "quiet_hours_end", "HH:MM"),
    (POLICY, "max_calls_per_window = 0", "max_calls_per_window", "at least 1"),
    (
        "engine",
        "idle_eviction = '2d'",
        "idle_eviction",
        "48h is shorter than rules.",
    ),
    ("engine", "max_attempts_kept = 4", f"{LOW_RATE}.min_attempts", "can never be reached"),
    ("kafka", "dead_letter_retention = 'forever'", "dead_letter_retention", "not a duration"),
    ("kafka", "dead_letter_retention = '0s'", "dead_letter_retention", ""),
]


@pytest.mark.parametrize(("table", "body", "key", "fragment"), CASES)
def test_each_problem_names_its_key(
    write: Write, table: str, body: str, key: str, fragment: str
) -> None:
    path = write(f"[{table}]\n{body}\n")
    problems = problems_of(path)
    key_path = key if key.startswith(("rules.", "engine.")) else f"{table}.{key}".strip(".")
    assert [p.key_path for p in problems] == [key_path]
    assert fragment in problems[0].message
    assert problems[0].file == str(path)


def test_message_format_matches_the_style_guide() -> None:
    problem = ConfigProblem("deploy/rules.toml", "rules.low_contact_rate.window", "m")
    assert str(problem) == "deploy/rules.toml: rules.low_contact_rate.window: m"


def test_every_problem_in_a_file_is_reported(write: Write) -> None:
    path = write(
        """
        [kafka]
        partitions = 0
        store = "disk://"
        [engine]
        grace = "a while"
        [rules.low_contact_rate]
        window = "soon"
        max_contact_rate = 2
        [rules.consecutive_unanswered]
        levels = [{ at = 10, severity = "critical" }, { at = 5, severity = "warning" }]
        [rules.nope]
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    lines = str(caught.value).splitlines()
    assert f'{path}: rules.low_contact_rate.window: "soon" is not a duration like 72h' in " ".join(
        lines
    )
    assert [line.split(": ")[1] for line in lines] == [
        "kafka.partitions",
        "kafka.store",
        "engine.grace",
        "rules.low_contact_rate.window",
        "rules.low_contact_rate.max_contact_rate",
        "rules.consecutive_unanswered.levels[1].at",
        "rules.consecutive_unanswered.levels[1].severity",
        "rules.nope",
    ]


def test_toml_syntax_error_names_the_line(write: Write) -> None:
    path = write('[engine]\ngrace = "1h"\nidle_eviction = \n')
    (problem,) = problems_of(path)
    assert (problem.file, problem.line) == (str(path), 3)
    assert str(problem).startswith(f"{path}:3:")
    assert "invalid TOML" in problem.message


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path / "absent.toml")
    assert "cannot read the file" in problem.message


def test_relations_are_checked_only_once_values_are_valid(write: Write) -> None:
    """An invalid mechanism must not also produce a confusing "sasl_mechanism is required"."""
    path = write(
        "[kafka]\nsecurity_protocol = 'SASL_SSL'\nsasl_mechanism = 'MD5'\n"
        "sasl_username = 'svc'\nsasl_password = 'pw'"
    )
    assert [p.key_path for p in problems_of(path)] == ["kafka.sasl_mechanism"]


def test_sasl_protocol_needs_all_credentials(write: Write) -> None:
    path = write("[kafka]\nsecurity_protocol = 'SASL_SSL'")
    assert [p.key_path for p in problems_of(path)] == [
        "kafka.sasl_mechanism",
        "kafka.sasl_username",
        "kafka.sasl_password",
    ]


def test_secrets_never_appear_in_messages(write: Write) -> None:
    path = write("[kafka]\nsasl_password = 424242")
    error = ConfigError(problems_of(path))
    assert "424242" not in str(error)
    assert "sasl_password" in str(error)


# --- environment overrides --------------------------------------------------------------------


def test_environment_overrides_kafka_and_web_with_types(write: Write) -> None:
    path = write("[kafka]\nbroker = 'kafka://file:9092'\npartitions = 6")
    env = {
        "REACHWATCH_KAFKA__BROKER": "kafka://env-1:9092;kafka://env-2:9092",
        "REACHWATCH_KAFKA__PARTITIONS": "24",
        "REACHWATCH_KAFKA__REPARTITION": "yes",
        "REACHWATCH_WEB__PORT": "9100",
        "REACHWATCH_LOG_LEVEL": "debug",  # not an override: no "__"
    }
    loaded = load_settings(path, env)
    assert loaded.kafka.broker == "kafka://env-1:9092;kafka://env-2:9092"
    assert (loaded.kafka.partitions, loaded.kafka.repartition) == (24, True)
    assert loaded.web.port == 9100


def test_environment_sets_group_liveness(write: Write) -> None:
    env = {
        "REACHWATCH_KAFKA__SESSION_TIMEOUT": "10s",
        "REACHWATCH_KAFKA__HEARTBEAT_INTERVAL": "2s",
        "REACHWATCH_KAFKA__GROUP_INSTANCE_ID": "reachwatch-1",
        "REACHWATCH_KAFKA__STANDBY_REPLICAS": "0",
    }
    kafka = load_settings(write("[kafka]\nsession_timeout = '30s'"), env).kafka
    assert (kafka.session_timeout_ms, kafka.heartbeat_interval_ms) == (10_000, 2_000)
    assert (kafka.group_instance_id, kafka.standby_replicas) == ("reachwatch-1", 0)


def test_group_instance_id_is_unset_unless_given() -> None:
    assert load_settings(None, {}).kafka.group_instance_id is None
    env = {"REACHWATCH_KAFKA__GROUP_INSTANCE_ID": ""}
    assert load_settings(None, env).kafka.group_instance_id is None


def test_dead_letter_retention_defaults_to_the_inputs_and_is_configurable(write: Write) -> None:
    assert load_settings(None, env={}).kafka.dead_letter_retention_ms == INPUT_RETENTION_MS
    path = write("[kafka]\ndead_letter_retention = '3d'")
    assert load_settings(path, env={}).kafka.dead_letter_retention_ms == 3 * DAY_MS
    env = {"REACHWATCH_KAFKA__DEAD_LETTER_RETENTION": "36h"}
    assert load_settings(path, env).kafka.dead_letter_retention_ms == 36 * HOUR_MS


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REACHWATCH_KAFKA__PARTITIONS", "3")
    assert load_settings(None).kafka.partitions == 3


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("REACHWATCH_KAFKA__PARTITIONS", "many", '"many" is not an integer'),
        ("REACHWATCH_KAFKA__PARTITIONS", "0", "must be at least 1, got 0"),
        ("REACHWATCH_KAFKA__REPARTITION", "maybe", "is not a boolean"),
        ("REACHWATCH_KAFKA__STORE", "disk://", '"disk://" is not allowed'),
        ("REACHWATCH_WEB__PORT", "0", "at least 1"),
        ("REACHWATCH_KAFKA__BROKR", "x", "did you mean REACHWATCH_KAFKA__BROKER?"),
        ("REACHWATCH_ENGINE__GRACE", "1h", "only [kafka], [web] and [shadow]"),
        ("REACHWATCH_RULES__X", "1", "only [kafka], [web] and [shadow]"),
    ],
)
def test_environment_problems_name_the_variable(variable: str, value: str, fragment: str) -> None:
    (problem,) = problems_of(None, {variable: value})
    assert (problem.file, problem.key_path) == ("environment", variable)
    assert fragment in problem.message


def test_empty_environment_value_unsets_an_optional_key(write: Write) -> None:
    path = write("[kafka]\nsecurity_protocol = 'SSL'\nssl_cafile = 'ca.pem'")
    assert load_settings(path, {"REACHWATCH_KAFKA__SSL_CAFILE": ""}).kafka.ssl_cafile is None


def test_environment_and_file_problems_are_reported_together(write: Write) -> None:
    path = write("[web]\nport = 'http'")
    env = {"REACHWATCH_KAFKA__PARTITIONS": "x", "REACHWATCH_WEB__BIND": ""}
    assert {(p.file, p.key_path) for p in problems_of(path, env)} == {
        ("environment", "REACHWATCH_KAFKA__PARTITIONS"),
        ("environment", "REACHWATCH_WEB__BIND"),
        (str(path), "web.port"),
    }


def test_environment_secret_is_never_shown(write: Write) -> None:
    path = write("[kafka]\nsecurity_protocol = 'SASL_PLAINTEXT'\nsasl_mechanism = 'PLAIN'")
    env = {"REACHWATCH_KAFKA__SASL_USERNAME": "svc", "REACHWATCH_KAFKA__SASL_PASSWORD": "hunter2"}
    loaded = load_settings(path, env)
    assert "hunter2" not in repr(loaded)
    assert "hunter2" not in render_toml(loaded)


# --- config_version ---------------------------------------------------------------------------

DEFAULT_TABLES = [
    block.strip().splitlines()
    for block in render_toml(Settings()).split("\n\n")[1:]  # the first block is the header
]


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_version_ignores_key_and_table_order(
    tmp_path_factory: pytest.TempPathFactory, rnd: random.Random
) -> None:
    tables = [[header, *rnd.sample(keys, len(keys))] for header, *keys in DEFAULT_TABLES]
    rnd.shuffle(tables)
    path = tmp_path_factory.mktemp("order") / "shuffled.toml"
    path.write_text("\n\n".join("\n".join(table) for table in tables), encoding="utf-8")
    assert load_settings(path, {}).engine.version == load_settings(SHIPPED, {}).engine.version


def test_version_ignores_spelling_comments_and_kafka(write: Write) -> None:
    path = write(
        """
        # a comment
        [rules.low_contact_rate]
        window = "3d"   # same as 72h
        max_contact_rate = 1e-1
        [kafka]
        broker = "kafka://elsewhere:9093"
        [web]
        port = 1234
        """
    )
    assert load_settings(path, {}).engine.version == load_settings(None, {}).engine.version


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=256).filter(lambda n: n != 6))
def test_version_changes_with_a_threshold(tmp_path_factory: pytest.TempPathFactory, n: int) -> None:
    path = tmp_path_factory.mktemp("threshold") / "site.toml"
    path.write_text(f"[rules.low_contact_rate]\nmin_attempts = {n}\n", encoding="utf-8")
    assert load_settings(path, {}).engine.version != load_settings(None, {}).engine.version


def test_version_changes_with_enabled_and_engine_keys() -> None:
    defaults = Settings().engine
    versions = {
        config_version(defaults),
        config_version(replace(defaults, grace_ms=2 * HOUR_MS)),
        config_version(replace(defaults, default_timezone="UTC")),
        config_version(
            replace(
                defaults,
                rules=replace(
                    defaults.rules,
                    active_avoidance=replace(defaults.rules.active_avoidance, enabled=False),
                ),
            )
        ),
    }
    assert len(versions) == 4
