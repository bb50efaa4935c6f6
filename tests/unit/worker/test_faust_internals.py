"""Every private Faust/aiokafka name in `streams.worker.faust_internals` still exists, with the
signature the code relies on: an upgrade that renames or reshapes one fails here, loudly."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pytest

from streams.worker.batching import BatchingApp, BatchingConsumer
from streams.worker.faust_internals import RELIED_ON, Reliance, aiokafka_producer, stored_keys

STREAMS = Path(__file__).resolve().parents[3] / "streams"


def resolve(path: str) -> Any:
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            found = getattr(found, part)
        return found
    raise ImportError(path)


@pytest.mark.parametrize("reliance", [r for r in RELIED_ON if r.signature], ids=lambda r: r.name)
def test_each_private_method_keeps_the_signature_relied_on(reliance: Reliance) -> None:
    method = getattr(resolve(reliance.owner), reliance.name)
    assert str(inspect.signature(method)) == reliance.signature


def test_the_consumer_keeps_the_bookkeeping_relied_on(app: BatchingApp) -> None:
    consumer = app.consumer
    assert isinstance(consumer, BatchingConsumer)  # `_new_transport` still decides the class
    names = [r.name for r in RELIED_ON if r.owner.endswith("Consumer") and not r.signature]
    assert names
    for name in names:
        assert hasattr(consumer, name), name
    assert isinstance(consumer._n_acked, int)
    assert consumer._commit_every == app.conf.broker_commit_every


def test_recovery_keeps_the_per_partition_arrival_times_relied_on(app: BatchingApp) -> None:
    recovery = app.tables.recovery
    assert isinstance(recovery._active_events_received_at, dict)
    assert "_active_events_received_at" in inspect.getsource(type(recovery)._verify_remaining)


def test_the_current_event_is_still_a_context_variable_the_rocksdb_store_reads() -> None:
    from faust.stores import rocksdb

    assert isinstance(resolve("faust.streams._current_event"), ContextVar)
    for reads_the_partition in (rocksdb.Store._set, rocksdb.Store._get):
        assert "current_event()" in inspect.getsource(reads_the_partition)
    assert "_dbs" in inspect.get_annotations(rocksdb.Store)


def test_the_rocksdb_recovery_path_refuses_a_store_without_what_it_reads() -> None:
    from faust.stores.rocksdb import Store

    store = Store.__new__(Store)  # no database opened: only the missing attribute matters
    with pytest.raises(RuntimeError, match="_dbs"):
        list(stored_keys(store, [0]))
    assert list(stored_keys(object(), [0])) == []  # the memory store holds nothing to re-read


def test_no_module_but_the_adapter_names_a_private_faust_or_aiokafka_name() -> None:
    private = {r.name for r in RELIED_ON}
    for path in STREAMS.rglob("*.py"):
        if path.name == "faust_internals.py":
            continue
        text = path.read_text(encoding="utf-8")
        named = [name for name in private if re.search(rf"(?<!\w){name}\b", text)]
        assert not named, f"{path} names {named}"


def test_under_exactly_once_record_batches_go_through_the_producer_faust_would_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The transactional producer picked for a changelog partition is the one Faust's own
    transaction manager sends that partition's messages through (same transactional id), and
    the lock is the one Faust holds around those sends."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        app = BatchingApp("eo-test", broker="kafka://127.0.0.1:9", loop=loop,
                          processing_guarantee="exactly_once", topic_partitions=4)  # fmt: skip
        app.in_worker = True  # as `faust worker` sets it: transactions are on
        table = app.Table("borrowers", partitions=4)
        app.topic("calls", partitions=4)
        app.agent(app.topic("calls"))(lambda stream: stream)
        changelog = table.changelog_topic.get_topic_name()
        producer = app.producer
        ids: list[str | None] = []

        async def send(*args: Any, transactional_id: str | None = None, **kwargs: Any) -> None:
            ids.append(transactional_id)

        monkeypatch.setattr(producer, "send", send)
        monkeypatch.setattr(app.consumer, "key_partition", lambda topic, key, partition: partition)
        monkeypatch.setattr(app.assignor, "_topic_groups", {changelog: 3})  # set at assignment
        loop.run_until_complete(app.consumer.transactions.send(changelog, b"k", b"v", 2, None,
                                                              None))  # fmt: skip
        [faust_id] = ids
        assert faust_id is not None
        sentinel, lock = object(), asyncio.Lock()
        monkeypatch.setitem(producer._transaction_producers, faust_id, sentinel)
        monkeypatch.setitem(producer._trn_locks, faust_id, lock)
        assert aiokafka_producer(app, changelog, 2) == (sentinel, lock)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_under_at_least_once_record_batches_go_through_faust_s_one_producer(
    app: BatchingApp,
) -> None:
    sentinel = object()
    app.producer._producer = sentinel
    producer, lock = aiokafka_producer(app, "calls", 0)
    assert producer is sentinel
    assert isinstance(lock, contextlib.nullcontext)
