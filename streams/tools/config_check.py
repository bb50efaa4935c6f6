"""`reachwatch config check|show`: validate and print configs without starting anything."""

from __future__ import annotations

from pathlib import Path

import click

from streams.core.challengers import load_challengers
from streams.core.config import Settings
from streams.core.config_loader import ConfigError, load_settings, render_toml, summary

NO_ENV = click.option(
    "--no-env",
    is_flag=True,
    help="Ignore REACHWATCH_* environment variables (REACHWATCH_CONFIG too).",
)


def load_or_report(path: Path | None, no_env: bool) -> Settings | None:
    """The settings, or None after listing every problem on stderr."""
    try:
        return load_settings(path, {} if no_env else None)
    except ConfigError as error:
        click.echo(str(error), err=True)
        source = path or "configuration"
        click.echo(f"{source}: invalid, {len(error.problems)} problem(s)", err=True)
        return None


@click.group("config")
def config_group() -> None:
    """Validate and inspect rule configs (TOML; see deploy/rules.toml)."""


@config_group.command("check", short_help="Validate config files; exit 2 listing every problem.")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@NO_ENV
def check_command(files: tuple[Path, ...], no_env: bool) -> None:
    """Validate FILE... without starting anything: exit 0 when valid, 2 listing every problem.

    Without FILE, checks what the worker would load: $REACHWATCH_CONFIG or the built-in
    defaults. REACHWATCH_KAFKA__* / REACHWATCH_WEB__* / REACHWATCH_SHADOW__* overrides are
    applied unless --no-env. A file's [shadow] challengers are checked too.
    """
    valid = True
    for path in files or (None,):
        settings = load_or_report(path, no_env)
        if settings is None:
            valid = False
            continue
        click.echo(summary(settings))
        try:
            challengers = load_challengers(settings)
        except ConfigError as error:
            click.echo(str(error), err=True)
            click.echo(f"{settings.source}: its challengers: {len(error.problems)} problem(s)",
                       err=True)  # fmt: skip
            valid = False
            continue
        for challenger in challengers:
            click.echo(f"  challenger {challenger.name} ({challenger.path}): valid, "
                       f"config_version {challenger.engine.version}")  # fmt: skip
    if not valid:
        raise click.exceptions.Exit(2)


@config_group.command("show", short_help="Print the effective config as TOML.")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@NO_ENV
def show_command(file: Path | None, no_env: bool) -> None:
    """Print the effective config (defaults + FILE + environment) as TOML; secrets left out."""
    settings = load_or_report(file, no_env)
    if settings is None:
        raise click.exceptions.Exit(2)
    click.echo(render_toml(settings), nl=False)
