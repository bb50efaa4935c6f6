"""What every subcommand that reads the config file shares: the option and the exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from streams.core.challengers import Challenger, load_challengers
from streams.core.config import Settings
from streams.core.config_loader import ConfigError, load_settings

F = TypeVar("F", bound=Callable[..., Any])

config_option: Callable[[F], F] = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="REACHWATCH_CONFIG",
    help="Config TOML (default: $REACHWATCH_CONFIG, else the built-in defaults).",
)

challenger_option: Callable[[F], F] = click.option(
    "--challenger",
    "challenger_paths",
    type=click.Path(path_type=Path),
    multiple=True,
    help="A challenger config file, run beside the config's own rules; repeatable, adds to "
    "the config's [shadow] challengers.",
)


def settings_or_exit(config_path: Path | None) -> Settings:
    """The validated settings, or every problem on stderr and exit code 2."""
    return all_settings_or_exit([config_path])[0]


def all_settings_or_exit(config_paths: Sequence[Path | None]) -> list[Settings]:
    """Each file's settings; if any is invalid, every problem of every file on stderr and exit
    code 2, before any work starts."""
    settings, problems = [], []
    for path in config_paths:
        try:
            settings.append(load_settings(path))
        except ConfigError as error:
            problems.append(str(error))
    if problems:
        click.echo("reachwatch: invalid configuration:\n" + "\n".join(problems), err=True)
        sys.exit(2)
    return settings


def challengers_or_exit(settings: Settings, extra: Sequence[Path]) -> tuple[Challenger, ...]:
    """The challengers of `settings` plus `extra`, or every problem on stderr and exit code 2."""
    try:
        return load_challengers(settings, extra)
    except ConfigError as error:
        click.echo(f"reachwatch: invalid challenger configuration:\n{error}", err=True)
        sys.exit(2)
