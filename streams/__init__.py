"""reachwatch: streaming early warnings that a borrower is becoming unreachable."""

__version__ = "0.1.0"
