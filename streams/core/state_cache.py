"""Decoded borrower states kept between batches, so a borrower touched again is not re-decoded.

The worker stores each state as bytes (the changelog's value) and the batch step would decode
them again for every batch that touches the borrower. The cache keeps, per borrower, the bytes
last written together with the state object they were encoded from, and hands the object back
only when the store still holds equal bytes: a rebalance, a restore from the changelog, an
idle-eviction sweep or another writer cannot make it serve a stale state, they only make it
miss. An entry is taken out when handed back (the engine updates states in place, so an entry
must never outlive a failed `apply`) and put back when the batch writes the borrower's new
state. Bounded: least recently written borrowers are dropped first.

A kept state is the object `to_bytes` encoded, not its decoding: it still holds event ids that
the encoding leaves out, which the engine never reads (`BorrowerState.cited_ids`), so alerts and
written states are byte-identical with or without the cache (tests/unit/core/engine).
"""

from __future__ import annotations

from streams.core.engine import BorrowerState


class StateCache:
    """At most `capacity` borrowers' (written bytes, state) pairs, in write order."""

    __slots__ = ("_entries", "capacity", "hits", "misses")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self._entries: dict[bytes, tuple[bytes, BorrowerState]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, key: bytes, stored: bytes) -> BorrowerState:
        """The state `stored` decodes to: the kept object when it was written as `stored`."""
        entry = self._entries.pop(key, None)
        if entry is not None and entry[0] == stored:
            self.hits += 1
            return entry[1]
        self.misses += 1
        return BorrowerState.from_bytes(stored)

    def keep(self, key: bytes, written: bytes | None, state: BorrowerState | None) -> None:
        """Remember that `state` was just written as `written` (None: the borrower's state was
        deleted)."""
        entries = self._entries
        entries.pop(key, None)  # re-inserted last: dict order is write order
        if written is None or state is None:
            return
        entries[key] = (written, state)
        if len(entries) > self.capacity:
            del entries[next(iter(entries))]
