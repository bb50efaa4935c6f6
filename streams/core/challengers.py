"""Challenger configs: rule files run beside the champion on the same events, acting on nothing.

A challenger is a config file; only its `[engine]` and `[rules]` count (its `[kafka]`, `[web]` and
`[shadow]` are ignored, so a copy of the main file with a changed threshold is a valid challenger).
It is named by its file's stem, and that name (not its `config_version`, which changes with every
edit) names its state table, so editing a challenger keeps its borrowers' state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.core.config import EngineConfig, Settings
from streams.core.config_loader import (
    DEFAULTS_SOURCE,
    ConfigError,
    ConfigProblem,
    challenger_name,
    challenger_name_problem,
    load_settings,
)

COMMAND_LINE = "command line"


@dataclass(frozen=True, slots=True)
class Challenger:
    name: str
    path: Path
    engine: EngineConfig


def challenger_paths(settings: Settings, extra: Sequence[str | Path] = ()) -> list[Path]:
    """The config's `[shadow] challengers` (relative to the config file) and then `extra` (as
    given, e.g. from the command line)."""
    base = Path() if settings.source == DEFAULTS_SOURCE else Path(settings.source).parent
    return [base / path for path in settings.shadow.challengers] + [Path(p) for p in extra]


def load_challenger(path: Path) -> Challenger:
    """One challenger file, validated like any config file (raises ConfigError)."""
    return Challenger(challenger_name(str(path)), path, load_settings(path, env={}).engine)


def load_challengers(
    settings: Settings, extra: Sequence[str | Path] = ()
) -> tuple[Challenger, ...]:
    """Every challenger of `settings` plus `extra`; raises ConfigError naming every problem of
    every file, and names used twice."""
    problems: list[ConfigProblem] = []
    challengers: list[Challenger] = []
    seen: dict[str, Path] = {}
    for path in challenger_paths(settings, extra):
        name, problem = challenger_name(str(path)), challenger_name_problem(str(path))
        if problem is not None:
            problems.append(ConfigProblem(COMMAND_LINE, str(path), problem))
            continue
        if name in seen:
            problems.append(ConfigProblem(COMMAND_LINE, str(path), f"has the same file name as "
                            f"{seen[name]}; challengers are named by file name"))  # fmt: skip
            continue
        seen[name] = path
        try:
            challengers.append(load_challenger(path))
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)
    return tuple(challengers)
