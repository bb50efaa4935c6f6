"""A Faust app with the batching consumer, and a whole Worker, built without connecting to any
broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from streams.core.config_loader import load_settings
from streams.worker.app import Worker
from streams.worker.batching import BatchingApp
from streams.worker.metrics import DomainMetrics

LIVENESS_ENV = {
    "REACHWATCH_KAFKA__REPARTITION": "true",
    "REACHWATCH_KAFKA__SESSION_TIMEOUT": "2m",
    "REACHWATCH_KAFKA__HEARTBEAT_INTERVAL": "5s",
    "REACHWATCH_KAFKA__GROUP_INSTANCE_ID": "w-7",
    "REACHWATCH_KAFKA__STANDBY_REPLICAS": "2",
}


@pytest.fixture
def app() -> Iterator[BatchingApp]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield BatchingApp("batching-test", broker="kafka://127.0.0.1:9", loop=loop)
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(scope="session")
def worker() -> Iterator[Worker]:
    """One Worker per process: Faust's Prometheus sensor registers in the global registry."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        settings = load_settings(None, env=LIVENESS_ENV)
        yield Worker(settings, partitions=4, metrics=DomainMetrics(CollectorRegistry()))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
