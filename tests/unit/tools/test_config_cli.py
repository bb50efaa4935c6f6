"""`reachwatch config check/show`: exit codes, where the output goes, and the installed script."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import main

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "deploy" / "rules.toml"
BAD = """
[kafka]
partitions = 0
[rules.low_contact_rate]
window = "soon"
[rules.consecutive_unanswered]
levels = [{ at = 5, severity = "fatal" }]
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own REACHWATCH_* variables must not leak into these tests."""
    for name in [n for n in os.environ if n.startswith("REACHWATCH_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(BAD, encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["config", *args])
    return result.exit_code, result.stdout, result.stderr


def test_check_valid_file_prints_a_summary() -> None:
    code, out, err = run("check", str(SHIPPED))
    assert (code, err) == (0, "")
    assert "valid, config_version " in out
    assert "7 of 7 rules enabled" in out
    assert 'rules.low_contact_rate: window="72h" min_attempts=6 max_contact_rate=0.1' in out


def test_check_invalid_file_lists_every_problem_on_stderr(bad_file: Path) -> None:
    code, out, err = run("check", str(bad_file))
    assert code == 2
    assert out == ""
    assert f"{bad_file}: kafka.partitions: must be at least 1, got 0" in err
    assert f'{bad_file}: rules.low_contact_rate.window: "soon" is not a duration like 72h' in err
    assert f"{bad_file}: rules.consecutive_unanswered.levels[0].severity: " in err
    assert "3 problem(s)" in err


def test_check_several_files_fails_if_any_is_invalid(bad_file: Path) -> None:
    code, out, err = run("check", str(SHIPPED), str(bad_file))
    assert code == 2
    assert f"{SHIPPED}: valid" in out
    assert f"{bad_file}: invalid" in err


def test_check_without_files_uses_the_config_env_variable(
    bad_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("check")[0] == 0
    monkeypatch.setenv("REACHWATCH_CONFIG", str(bad_file))
    assert run("check")[0] == 2
    assert run("check", "--no-env")[0] == 0


def test_check_reports_environment_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REACHWATCH_KAFKA__PARTITIONS", "lots")
    code, _, err = run("check", str(SHIPPED))
    assert code == 2
    assert 'environment: REACHWATCH_KAFKA__PARTITIONS: "lots" is not an integer' in err
    assert run("check", "--no-env", str(SHIPPED))[0] == 0


def test_show_prints_loadable_toml_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REACHWATCH_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("REACHWATCH_KAFKA__SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("REACHWATCH_KAFKA__SASL_USERNAME", "svc")
    monkeypatch.setenv("REACHWATCH_KAFKA__SASL_PASSWORD", "hunter2")
    code, out, _ = run("show", str(SHIPPED))
    assert code == 0
    assert "hunter2" not in out
    shown = tomllib.loads(out)
    assert shown["kafka"]["sasl_username"] == "svc"
    assert shown["rules"]["low_contact_rate"]["window"] == "72h"


def test_show_invalid_file_exits_2(bad_file: Path) -> None:
    assert run("show", str(bad_file))[0] == 2


@pytest.mark.parametrize(
    "command",
    [
        [str(Path(sys.executable).parent / "reachwatch"), "config", "check"],
        [sys.executable, "-m", "streams", "config", "check"],
    ],
)
def test_real_process_exit_codes(command: list[str], bad_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REACHWATCH_")}

    def process(path: Path) -> subprocess.CompletedProcess[str]:
        arguments = [*command, str(path)]
        return subprocess.run(
            arguments, capture_output=True, text=True, env=env, cwd=ROOT, check=False
        )

    good, bad = process(SHIPPED), process(bad_file)
    assert (good.returncode, bad.returncode) == (0, 2)
    assert "config_version" in good.stdout
    assert "rules.low_contact_rate.window" in bad.stderr


def test_check_covers_the_challengers_a_config_lists(tmp_path: Path) -> None:
    (tmp_path / "early.toml").write_text("[rules.active_avoidance]\nmin_avoidance = 2\n")
    (tmp_path / "broken.toml").write_text("[rules.active_avoidance]\nmin_avoidance = 0\n")
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('[shadow]\nchallengers = ["early.toml"]\n')
    bad.write_text('[shadow]\nchallengers = ["early.toml", "broken.toml"]\n')
    result = CliRunner().invoke(main, ["config", "check", "--no-env", str(good)])
    assert result.exit_code == 0, result.output
    assert "challenger early (" in result.output
    assert "valid, config_version " in result.output
    result = CliRunner().invoke(main, ["config", "check", "--no-env", str(bad)])
    assert result.exit_code == 2
    assert "broken.toml: rules.active_avoidance.min_avoidance: must be at least 1" in result.stderr
