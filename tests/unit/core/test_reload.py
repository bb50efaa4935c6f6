"""The hot-reload decision: switch, refuse with every problem on one line, or ask for a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core.config import Settings
from streams.core.config_loader import ConfigError, load_settings
from streams.core.reload import ReloadResult, decide


def loaded(tmp_path: Path, text: str) -> Settings | ConfigError:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    try:
        return load_settings(path, env={})
    except ConfigError as error:
        return error


@pytest.fixture
def started(tmp_path: Path) -> Settings:
    settings = loaded(tmp_path, '[kafka]\nbroker = "kafka://a:9092"\n')
    assert isinstance(settings, Settings)
    return settings


def test_a_changed_threshold_is_applied(tmp_path: Path, started: Settings) -> None:
    candidate = loaded(tmp_path, '[kafka]\nbroker = "kafka://a:9092"\n'
                       "[rules.active_avoidance]\nmin_avoidance = 2\n")  # fmt: skip
    decision = decide("rules.toml", started.engine, candidate, started)
    assert decision.results == (ReloadResult.APPLIED,)
    assert isinstance(candidate, Settings)
    assert decision.engine == candidate.engine
    assert decision.engine.version != started.engine.version
    (line,) = decision.log_lines
    assert f"{started.engine.version} -> {candidate.engine.version}" in line


def test_an_invalid_file_is_refused_with_every_problem_on_one_line(
    tmp_path: Path, started: Settings
) -> None:
    candidate = loaded(tmp_path, '[rules.low_contact_rate]\nwindow = "soon"\nmin_attempts = 0\n'
                       "[rules.active_avoidance]\nmin_avoidnce = 2\n")  # fmt: skip
    decision = decide("rules.toml", started.engine, candidate, started)
    assert decision.results == (ReloadResult.REFUSED,)
    assert decision.engine is None
    (line,) = decision.log_lines
    assert "\n" not in line
    assert line.startswith("config reload refused: 3 problem(s): ")
    for key in ("low_contact_rate.window", "low_contact_rate.min_attempts", "min_avoidnce"):
        assert key in line
    assert f"config_version {started.engine.version} stays" in line


def test_kafka_and_web_changes_need_a_restart_and_rules_still_switch(
    tmp_path: Path, started: Settings
) -> None:
    candidate = loaded(tmp_path, '[kafka]\nbroker = "kafka://b:9092"\nsasl_password = "s3cret"\n'
                       'security_protocol = "SASL_SSL"\nsasl_mechanism = "PLAIN"\n'
                       'sasl_username = "u"\n[web]\nport = 7000\n'
                       "[rules.active_avoidance]\nmin_avoidance = 2\n")  # fmt: skip
    decision = decide("rules.toml", started.engine, candidate, started)
    assert decision.results == (ReloadResult.APPLIED, ReloadResult.RESTART_REQUIRED)
    restart = decision.log_lines[1]
    for key in ("kafka.broker", "kafka.sasl_password", "web.port"):
        assert key in restart
    assert "s3cret" not in " ".join(decision.log_lines)


def test_a_shadow_list_change_needs_a_restart(tmp_path: Path, started: Settings) -> None:
    candidate = loaded(tmp_path, '[kafka]\nbroker = "kafka://a:9092"\n'
                       '[shadow]\nchallengers = ["x.toml"]\n')  # fmt: skip
    decision = decide("rules.toml", started.engine, candidate, started)
    assert decision.results == (ReloadResult.RESTART_REQUIRED,)
    assert decision.engine is None
    assert "shadow.challengers" in decision.log_lines[0]


def test_comments_and_spelling_change_nothing(tmp_path: Path, started: Settings) -> None:
    candidate = loaded(tmp_path, '# a comment\n[kafka]\nbroker = "kafka://a:9092"\n'
                       '[rules.low_contact_rate]\nwindow = "3d"\n')  # fmt: skip
    decision = decide("rules.toml", started.engine, candidate, started)
    assert decision.results == (ReloadResult.UNCHANGED,)
    assert decision.engine is None


def test_a_challenger_file_is_judged_on_its_rules_only(tmp_path: Path, started: Settings) -> None:
    candidate = loaded(tmp_path, '[kafka]\nbroker = "kafka://elsewhere:9092"\n')
    decision = decide("early.toml", started.engine, candidate)
    assert decision.results == (ReloadResult.UNCHANGED,)
