"""What a changed config file means for a running worker: switch, refuse, or ask for a restart.

Pure: the worker reads the file, loads it (`load_settings`, every problem collected) and hands the
outcome here; the decision says which engine config to switch to between batches, what to log
(one line per outcome, every problem on the one line of a refusal) and which results to count.
Only what `config_version` covers ([engine] and [rules]) can change under a running worker;
[kafka], [web] and [shadow] decide topics, tables and sockets that are fixed at start.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

from streams.core.config import EngineConfig, Settings
from streams.core.config_loader import ConfigError

RESTART_SECTIONS = ("kafka", "web", "shadow")


class ReloadResult(StrEnum):
    APPLIED = "applied"  # the engine and rule settings were switched
    UNCHANGED = "unchanged"  # the file changed, its [engine] and [rules] did not
    REFUSED = "refused"  # invalid: the running config stays
    RESTART_REQUIRED = "restart_required"  # [kafka], [web] or [shadow] differ from the start


@dataclass(frozen=True, slots=True)
class ReloadDecision:
    results: tuple[ReloadResult, ...]
    engine: EngineConfig | None  # what to switch to; None keeps the running engine
    log_lines: tuple[str, ...]


def changed_keys(started: Settings, candidate: Settings) -> list[str]:
    """`section.key` of every [kafka]/[web]/[shadow] value that differs from the start (names
    only: a changed password is reported, never shown)."""
    changed = []
    for section in RESTART_SECTIONS:
        before, after = getattr(started, section), getattr(candidate, section)
        changed += [f"{section}.{f.name}" for f in fields(before)
                    if getattr(before, f.name) != getattr(after, f.name)]  # fmt: skip
    return changed


def decide(
    source: str,
    running: EngineConfig,
    candidate: Settings | ConfigError,
    started: Settings | None = None,
) -> ReloadDecision:
    """The decision for `source` (a file whose content changed) given what it loads to.

    `started` is the config the worker started with; None for a challenger file, whose [kafka],
    [web] and [shadow] are ignored anyway.
    """
    if isinstance(candidate, ConfigError):
        problems = "; ".join(str(problem) for problem in candidate.problems)
        line = (
            f"config reload refused: {len(candidate.problems)} problem(s): {problems}; "
            f"config_version {running.version} stays in force"
        )
        return ReloadDecision((ReloadResult.REFUSED,), None, (line,))
    results: list[ReloadResult] = []
    lines: list[str] = []
    engine = None
    if candidate.engine != running:
        engine = candidate.engine
        results.append(ReloadResult.APPLIED)
        lines.append(
            f"config reload applied: {source}: config_version {running.version} -> "
            f"{engine.version} from the next batch on"
        )
    restart = changed_keys(started, candidate) if started is not None else []
    if restart:
        results.append(ReloadResult.RESTART_REQUIRED)
        lines.append(
            f"config reload: {source}: {', '.join(restart)} changed; not applied: "
            "[kafka], [web] and [shadow] take effect only after a restart"
        )
    if not results:
        results.append(ReloadResult.UNCHANGED)
        lines.append(
            f"config reload: {source} changed but not its engine or rules; "
            f"config_version {running.version} stays"
        )
    return ReloadDecision(tuple(results), engine, tuple(lines))
