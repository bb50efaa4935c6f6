"""The simulated populations that output tests run through the batch step: both shipped presets,
default and harsh delivery faults, and a worker clock after every simulated event."""

from __future__ import annotations

from pathlib import Path

from streams.tools.simulation.output import Faults

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PRESETS = {"default": DEPLOY / "rules.toml", "us": DEPLOY / "presets" / "us.toml"}
FAULTS = {
    "default": Faults(),
    "harsh": Faults(late=0.05, out_of_order=0.15, duplicate=0.05, malformed=0.05),
}
NOW = 1_796_083_200_000  # 2026-12-01T00:00:00Z: after every simulated event
KINDS = {"call_attempt": "call_attempt", "repayment": "repayment"}
