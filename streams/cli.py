"""`reachwatch` command line: a click group whose subcommands load on first use.

Each subcommand lives beside the code it drives (for example `streams.tools.replay:command`), so the
CLI stays a table of names and importing Faust is paid only by the commands that need it.
"""

from __future__ import annotations

import importlib
import sys

import click

from streams.log_masking import install_log_masking

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("streams.worker.app", "worker_command"),
    "simulate": ("streams.tools.simulate", "command"),
    "replay": ("streams.tools.replay", "command"),
    "backtest": ("streams.tools.backtest", "command"),
    "config": ("streams.tools.config_check", "config_group"),
    "topics": ("streams.worker.topics", "topics_group"),
    "tail": ("streams.tools.tail", "command"),
    "demo": ("streams.local_kafka.demo", "command"),
    "kafka": ("streams.local_kafka.broker", "kafka_command"),
}

HELP = {
    "worker": "Run the Faust worker (the streaming pipeline).",
    "simulate": "Generate a synthetic borrower population (JSONL or Kafka) with labels.",
    "replay": "Run the engine over a JSONL event file; alerts as JSONL.",
    "backtest": "Compare several rule configs over the same events.",
    "config": "Validate rule configs.",
    "topics": "Create the Kafka topics reachwatch uses.",
    "tail": "Follow the alert topic.",
    "demo": "Local broker + topics + worker + simulated traffic + live alerts.",
    "kafka": "Run a local single-node Apache Kafka broker (from Maven Central).",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP[name]) for name in sorted(SUBCOMMANDS)])


@click.group(cls=LazyGroup)
@click.version_option(package_name="reachwatch")
def main() -> None:
    """reachwatch: early warnings that a borrower is becoming unreachable."""
    install_log_masking()  # phone numbers and e-mail addresses never reach a log line


if __name__ == "__main__":
    sys.exit(main())
