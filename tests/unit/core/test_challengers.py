"""Challenger files: where they are found, how they are named, and every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core.challengers import load_challengers
from streams.core.config_loader import ConfigError, load_settings

STRICT = "[rules.active_avoidance]\nmin_avoidance = 2\n"


def test_config_challengers_are_relative_to_the_config_file_and_cli_ones_are_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "strict.toml").write_text(STRICT)
    (tmp_path / "loose.toml").write_text("[rules.active_avoidance]\nmin_avoidance = 5\n")
    main = tmp_path / "conf" / "main.toml"
    main.write_text('[shadow]\nchallengers = ["strict.toml"]\n')
    monkeypatch.chdir(tmp_path)
    challengers = load_challengers(load_settings(main, env={}), [Path("loose.toml")])
    assert [c.name for c in challengers] == ["strict", "loose"]
    assert [c.engine.rules.active_avoidance.min_avoidance for c in challengers] == [2, 5]
    assert (
        challengers[0].engine.version
        == load_settings(tmp_path / "conf" / "strict.toml").engine.version
    )


def test_every_problem_of_every_challenger_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("[rules.active_avoidance]\nmin_avoidance = 0\n")
    (tmp_path / "b.toml").write_text("[rules\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.toml").write_text(STRICT)
    paths = [tmp_path / "a.toml", tmp_path / "b.toml", tmp_path / "other" / "a.toml",
             tmp_path / "missing.toml"]  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_challengers(load_settings(None, env={}), paths)
    text = str(caught.value)
    assert "rules.active_avoidance.min_avoidance: must be at least 1" in text
    assert "invalid TOML" in text
    assert "same file name" in text
    assert "cannot read the file" in text


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('["a.toml", "sub/a.toml"]', "same file name as [0]"),
        ('["bad name!.toml"]', "must use only letters"),
        ('[""]', "is not a file path"),
        ('"a.toml"', "must be an array of file paths"),
    ],
)
def test_shadow_challengers_key_is_checked(tmp_path: Path, value: str, fragment: str) -> None:
    path = tmp_path / "main.toml"
    path.write_text(f"[shadow]\nchallengers = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert fragment in str(caught.value)
    assert "shadow.challengers" in str(caught.value)


def test_challengers_from_the_environment_and_topic_distinct_from_the_alert_topic() -> None:
    env = {"REACHWATCH_SHADOW__CHALLENGERS": "a.toml, b.toml"}
    assert load_settings(None, env=env).shadow.challengers == ("a.toml", "b.toml")
    with pytest.raises(ConfigError, match="is the same topic as alert_topic"):
        load_settings(
            None,
            env={"REACHWATCH_KAFKA__SHADOW_ALERT_TOPIC": "collections.unreachability-alerts.v1"},
        )


def test_challengers_do_not_change_config_version() -> None:
    env = {"REACHWATCH_SHADOW__CHALLENGERS": "a.toml"}
    assert load_settings(None, env=env).engine.version == load_settings(None, env={}).engine.version
