"""Alerts, dead letters and states stay byte-identical across performance work.

Simulated populations (default and harsh delivery faults) under the default and US presets go
through the batch step in worker-sized batches with a state round trip through a store; the
SHA-256 of everything it produced (encoded alerts in order, dead letters, every state write) is
pinned. A change to the engine, decoding or the state format that alters any output byte fails
here; an intended change re-pins with the reason in its commit. The same digests must come out
with the decoded-state cache the worker uses (`StateCache`), so the cache cannot change a byte.
"""

from __future__ import annotations

import hashlib

import pytest

from streams.core.batch import BatchProcessor, InputRecord
from streams.core.config_loader import load_settings
from streams.tools.simulate import Simulation, parse_start
from tests.support.populations import FAULTS, KINDS, NOW, PRESETS

PINNED = {
    ("default", "default"): "6a0c114c096b9ad63c7fdd75a7045e49f029d835e72a4fe17ee2364e2d842eea",
    ("default", "harsh"): "7b04e80b3b2a4aa5860bb9d5bcdafc78ab04f9064565507821618d11b1cb1f7c",
    ("us", "default"): "414982f270f73f69325604dd6acff0a1af2762b5be2d938f954fdeda93977cb8",
    ("us", "harsh"): "5996f7755ddaa43d2d4e8e3f88b4f92b7a5f2a6857033f1105f7786a5cc9e0eb",
}


def digest(preset: str, faults: str, cache_borrowers: int) -> tuple[str, int, int]:
    """The outputs' SHA-256, how many alerts they held and how many states the cache served."""
    engine = load_settings(PRESETS[preset], env={}).engine
    processor = BatchProcessor(engine, KINDS, require_key=True, cache_borrowers=cache_borrowers)
    simulation = Simulation(
        borrowers=300, days=30, seed=11, start=parse_start("2026-11-01"), faults=FAULTS[faults]
    )
    records = [InputRecord(r.kind, n % 3, n, r.key.encode(), r.value)
               for n, r in enumerate(simulation.records())]  # fmt: skip
    stored: dict[bytes, bytes] = {}
    sha, alerts = hashlib.sha256(), 0
    for start in range(0, len(records), 700):
        result = processor.process(records[start : start + 700], lambda k, _: stored.get(k), NOW)
        for partition, alert in result.alerts:
            sha.update(b"A%d:" % partition + alert.encode(NOW))
        alerts += len(result.alerts)
        for partition, key, letter in result.dead_letters:
            sha.update(b"D%d:%s:" % (partition, key or b"") + letter)
        for key, write in result.writes.items():
            sha.update(b"S%d:%s:" % (write.partition, key) + (write.value or b"-"))
            if write.value is None:
                stored.pop(key, None)
            else:
                stored[key] = write.value
    cache = processor.caches[0]
    return sha.hexdigest(), alerts, 0 if cache is None else cache.hits


# 0: no cache; 100: fewer than the 300 borrowers, so entries are dropped and decoded again
@pytest.mark.parametrize("cache_borrowers", [0, 100, 1000])
@pytest.mark.parametrize(("preset", "faults"), sorted(PINNED))
def test_outputs_match_the_pinned_digest(preset: str, faults: str, cache_borrowers: int) -> None:
    value, alerts, served = digest(preset, faults, cache_borrowers)
    assert alerts > 100  # the population really raises alerts
    assert (served > 0) == (cache_borrowers > 0)  # the cached path really ran
    assert value == PINNED[preset, faults]
