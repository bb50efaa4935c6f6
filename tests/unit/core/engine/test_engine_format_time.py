"""`format_time` (cached day, integer time of day) matches datetime's formatting everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from streams.core.engine.alert import format_time

YEAR_1_MS = -62_135_596_800_000
YEAR_9999_END_MS = 253_402_300_799_999


def by_datetime(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@given(st.integers(YEAR_1_MS + 86_400_000, YEAR_9999_END_MS))
def test_format_time_matches_datetime(ms: int) -> None:
    assert format_time(ms) == by_datetime(ms)


def test_format_time_at_the_edges_of_the_fast_path() -> None:
    for ms in (
        0,
        -1,
        999,
        -1000,
        2**32 * 1000 - 1,
        2**32 * 1000,
        -(2**32) * 1000,
        -1 - 2**32 * 1000,
    ):
        assert format_time(ms) == by_datetime(ms)
    assert format_time(1_795_744_800_000) == "2026-11-27T02:00:00.000Z"
