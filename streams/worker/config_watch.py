"""Noticing that a config file changed, including a Kubernetes ConfigMap volume's symlink swap.

A ConfigMap volume holds `rules.toml -> ..data/rules.toml` and replaces `..data` (a symlink to a
timestamped directory) atomically; inotify on the file misses that, and its mtime may not move.
So the watcher polls: it reads the file through its path (following the symlinks anew each
time) and compares a hash of the bytes. A file that cannot be read counts as a change too, once,
so that its loading problem is reported once and not at every poll.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


def fingerprint(path: Path) -> str:
    """A hash of the file's bytes, or the reason it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        return f"unreadable: {error.strerror or error}"


@dataclass(slots=True)
class WatchedFile:
    path: Path
    seen: str = field(init=False)

    def __post_init__(self) -> None:
        self.seen = fingerprint(self.path)

    def changed(self) -> bool:
        """Whether the content differs from the last call's (or from when watching began)."""
        now = fingerprint(self.path)
        if now == self.seen:
            return False
        self.seen = now
        return True
