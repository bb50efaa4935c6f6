"""A Faust app with the batching consumer, built without connecting to any broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from streams.worker.batching import BatchingApp


@pytest.fixture
def app() -> Iterator[BatchingApp]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield BatchingApp("batching-test", broker="kafka://127.0.0.1:9", loop=loop)
    asyncio.set_event_loop(None)
    loop.close()
