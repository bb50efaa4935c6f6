"""The pure detection engine: per-borrower state, the seven rules, alert building.

No I/O, no clock, nothing from Faust, Kafka or Prometheus: the worker and offline replay call the
same `apply` and get identical alerts. See docs/rules.md for the rule semantics with examples.
"""

from __future__ import annotations

from streams.core.engine.alert import Alert
from streams.core.engine.core import Disposition, Outcome, apply, evict_if_idle
from streams.core.engine.state import BorrowerState

__all__ = ["Alert", "BorrowerState", "Disposition", "Outcome", "apply", "evict_if_idle"]
