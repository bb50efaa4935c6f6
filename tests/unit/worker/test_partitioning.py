"""The default partitioner's placement: Java's answers, and aiokafka's (which writes the
by-borrower topics), for any key."""

from __future__ import annotations

import zlib

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.worker.partitioning import default_partition, default_placement


# Partitions Kafka's Java client picks among 1,000 (the vectors kafka-python's tests take
# from org.apache.kafka.clients.producer.Partitioner).
@pytest.mark.parametrize(
    ("key", "partition"),
    [(b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742)],
)
def test_matches_the_java_client(key: bytes, partition: int) -> None:
    assert default_partition(key, 1000) == partition
    assert default_partition(key, 1000) == partition  # and again, from the cache


@given(key=st.binary(max_size=64), partitions=st.integers(1, 512))
def test_matches_aiokafka_for_any_key(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert default_partition(key, partitions) == DefaultPartitioner()(key, every, every)


def test_librdkafkas_default_puts_the_reported_key_elsewhere() -> None:
    """librdkafka's default (consistent_random) is CRC32 of the key: CN-0042 goes to 1 of 4."""
    assert default_partition(b"CN-0042", 4) == 0
    assert zlib.crc32(b"CN-0042") % 4 == 1


def test_placement_uses_each_topics_partition_count() -> None:
    placement = default_placement({"calls": 4, "repayments": 7})
    keys = [f"b-{n}".encode() for n in range(200)]
    assert [placement("calls", key) for key in keys] == [default_partition(k, 4) for k in keys]
    assert [placement("repayments", k) for k in keys] == [default_partition(k, 7) for k in keys]
    assert {placement("repayments", key) for key in keys} == set(range(7))
