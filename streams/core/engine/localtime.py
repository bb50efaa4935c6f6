"""Borrower-local time for contact_policy, without a datetime per event.

Only contact_policy needs local time (quiet hours, local days). Zone lookups are cached by name
(unknown or malformed names fall back to the default zone, so a valid event never raises), and UTC
offsets are cached per zone and quarter hour of UTC time: tz transitions of the current era fall
on quarter-hour UTC instants, so one offset holds for a whole bucket and the steady state is a
dict lookup and integer arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.core.config import DAY_MS, MINUTE_MS

_BUCKET_MS = 15 * MINUTE_MS
_CACHE_LIMIT = 100_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

_zones: dict[str, ZoneInfo | None] = {}
_offsets: dict[tuple[ZoneInfo, int], int] = {}


def _lookup(name: str) -> ZoneInfo | None:
    zone = _zones.get(name, _zones)
    if zone is _zones:
        try:
            zone = ZoneInfo(name)
        except (ValueError, OSError, ZoneInfoNotFoundError):  # malformed, too long, unknown
            zone = None
        if len(_zones) >= _CACHE_LIMIT:
            _zones.clear()
        _zones[name] = zone
    return zone  # type: ignore[return-value]


def zone_for(name: str | None, default: str) -> ZoneInfo:
    """The borrower's zone: `name` when it is a known IANA zone, else `default`, else UTC."""
    zone = _lookup(name) if name else None
    if zone is None:
        zone = _lookup(default) or ZoneInfo("UTC")
    return zone


def utc_offset_ms(zone: ZoneInfo, at_ms: int) -> int:
    bucket = at_ms // _BUCKET_MS
    key = (zone, bucket)
    offset = _offsets.get(key)
    if offset is None:
        instant = datetime.fromtimestamp(bucket * _BUCKET_MS / 1000, UTC).astimezone(zone)
        delta = instant.utcoffset()
        offset = int(delta.total_seconds() * 1000) if delta is not None else 0
        if len(_offsets) >= _CACHE_LIMIT:
            _offsets.clear()
        _offsets[key] = offset
    return offset


def local_day_and_minute(zone: ZoneInfo, at_ms: int) -> tuple[int, int]:
    """(days since 1970-01-01 in local time, minutes after local midnight)."""
    local_ms = at_ms + utc_offset_ms(zone, at_ms)
    return local_ms // DAY_MS, (local_ms % DAY_MS) // MINUTE_MS


def local_day(zone: ZoneInfo, at_ms: int) -> int:
    return (at_ms + utc_offset_ms(zone, at_ms)) // DAY_MS


def day_bounds(zone: ZoneInfo, day: int) -> tuple[int, int]:
    """UTC [start, end) of local `day`: each midnight converted with the offset in force there
    (found from a first guess one offset away, exact unless a transition is within that hour)."""
    start = day * DAY_MS
    end = start + DAY_MS
    start -= utc_offset_ms(zone, start - utc_offset_ms(zone, start))
    end -= utc_offset_ms(zone, end - utc_offset_ms(zone, end))
    return start, end


def day_label(day: int) -> str:
    """ISO date of a local day number, e.g. 2026-11-27."""
    return date.fromordinal(day + _EPOCH_ORDINAL).isoformat()
