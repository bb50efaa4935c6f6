"""The one-deployment fixture most integration tests share (test_pipeline parametrizes its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pipeline import Deployment


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Deployment]:
    """Own topics and consumer group on the shared broker; its workers are stopped after."""
    deployment = Deployment(kafka_bootstrap, tmp_path)
    try:
        yield deployment
    finally:
        deployment.stop_all()
