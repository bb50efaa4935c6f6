"""StateCache hands back a kept state only for the very bytes it was written as."""

from __future__ import annotations

import pytest

from streams.core.config import EngineConfig
from streams.core.engine import BorrowerState, apply
from streams.core.events import CallAttempt
from streams.core.state_cache import StateCache


def state(event_id: str) -> BorrowerState:
    event = CallAttempt(event_id, "b1", 1_796_000_000_000, "voice", "no_answer", "primary",
                        None, None)  # fmt: skip
    result = apply(None, event, EngineConfig()).state
    assert result is not None
    return result


def test_kept_state_is_served_once_for_equal_bytes() -> None:
    cache, kept = StateCache(4), state("e1")
    written = kept.to_bytes()
    cache.keep(b"b1", written, kept)
    assert cache.take(b"b1", bytes(bytearray(written))) is kept  # equal, not the same object
    assert len(cache) == 0  # taken out: the engine may now change it in place
    assert cache.take(b"b1", written) is not kept  # decoded afresh
    assert (cache.hits, cache.misses) == (1, 1)


def test_other_bytes_in_the_store_are_decoded_not_served() -> None:
    cache, kept, newer = StateCache(4), state("e1"), state("e2")
    cache.keep(b"b1", kept.to_bytes(), kept)
    served = cache.take(b"b1", newer.to_bytes())  # e.g. restored from another worker's changelog
    assert served is not kept
    assert served.to_bytes() == newer.to_bytes()


def test_deleted_state_is_forgotten_and_capacity_drops_the_oldest_write() -> None:
    cache, kept = StateCache(2), state("e1")
    written = kept.to_bytes()
    for key in (b"a", b"b", b"c"):
        cache.keep(key, written, kept)
    assert len(cache) == 2
    assert cache.take(b"a", written) is not kept  # dropped first
    cache.keep(b"b", None, None)  # a tombstone
    assert cache.take(b"b", written) is not kept
    assert cache.take(b"c", written) is kept


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StateCache(0)
