"""Where Kafka's default partitioner puts a key: the rule the borrower table relies on.

A borrower's state lives in the partition its key hashes to, so every event of that borrower must
arrive there. The Java client, kafka-python and aiokafka hash keys with murmur2
(`toPositive(murmur2(key)) % partitions`); librdkafka clients (confluent-kafka, kcat, ...) hash
with CRC32 by default and put many keys elsewhere unless set to `partitioner=murmur2_random`.
The hash is kafka-python's; a borrower's events keep coming, so its key's hash is cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from kafka.partitioner.default import murmur2

from streams.core.batch import Placement

# Keys whose hash is remembered: a few batches' worth of borrowers (each entry ~200 bytes).
KEY_HASH_CACHE = 1 << 15


@lru_cache(maxsize=KEY_HASH_CACHE)
def _positive_murmur2(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def default_partition(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner gives `key` among `partitions`."""
    return _positive_murmur2(key) % partitions


def default_placement(partitions: Mapping[str, int]) -> Placement:
    """A `Placement` for topics with these partition counts."""
    counts = dict(partitions)

    def placement(topic: str, key: bytes) -> int:
        return _positive_murmur2(key) % counts[topic]

    return placement
