"""dead_letter.v1 records: a rejected input message, kept whole enough to inspect and replay.

Bad input must never vanish. A dead letter carries the original value (base64, because it may
not even be text), the original key, where the message came from (topic, partition, offset, so
the full message can be fetched again while the source topic retains it) and why it was
rejected, as the `RejectReason` code of `streams.core.decoding` plus its one-sentence detail.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from streams.core.decoding import Rejection
from streams.core.engine.alert import format_time

DEAD_LETTER_SCHEMA = "dead_letter.v1"
# Base64 grows data by a third; 512 KiB of original keeps a dead letter under Kafka's default
# 1 MiB message limit, even for a too_large payload.
MAX_KEPT_VALUE_BYTES = 512 * 1024
# The key is kept whole up to this size (a borrower_id is at most 128 characters) and cut beyond
# it, in the record and as the dead letter's own Kafka key; the detail likewise.
MAX_KEPT_KEY_BYTES = 1024
MAX_DETAIL_CHARS = 1000


def dead_letter_key(key: bytes | None) -> bytes | None:
    """The dead letter's Kafka key: the original key, cut to MAX_KEPT_KEY_BYTES."""
    return key if key is None or len(key) <= MAX_KEPT_KEY_BYTES else key[:MAX_KEPT_KEY_BYTES]


def _key_fields(key: bytes | None) -> tuple[str | None, str | None]:
    """The key as text when it is UTF-8 (the usual borrower_id, readable), otherwise base64;
    a key cut at MAX_KEPT_KEY_BYTES inside a character is written as base64."""
    key = dead_letter_key(key)
    if key is None:
        return None, None
    try:
        return str(key, "utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(key).decode("ascii"), "base64"


def build_dead_letter(
    *,
    raw: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    rejection: Rejection,
    received_at_ms: int,
) -> dict[str, Any]:
    """The dead_letter.v1 record (a dict) for one rejected message."""
    key_text, key_encoding = _key_fields(key)
    value = raw or b""
    kept = value[:MAX_KEPT_VALUE_BYTES]
    return {
        "schema": DEAD_LETTER_SCHEMA,
        "reason": rejection.reason.value,
        "detail": rejection.detail
        if len(rejection.detail) <= MAX_DETAIL_CHARS
        else rejection.detail[: MAX_DETAIL_CHARS - 1] + "…",
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "key": key_text,
        "key_encoding": key_encoding,
        "value_base64": None if raw is None else base64.b64encode(kept).decode("ascii"),
        "value_size": len(value),
        "value_truncated": len(kept) < len(value),
        "received_at": format_time(received_at_ms),
    }


def dead_letter_record(**fields: Any) -> bytes:
    """The dead_letter.v1 message value (orjson bytes); `fields` as for `build_dead_letter`."""
    return orjson.dumps(build_dead_letter(**fields))
