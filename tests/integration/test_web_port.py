"""The worker's web port on a live worker: operators' endpoints answer, Faust's table, router,
graph, statistics and index pages do not, and readiness follows assignment and recovery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.worker.web import LIVENESS_PATH, METRICS_PATH
from tests.support.pipeline import Deployment
from tests.support.scenario import at, call

BORROWER = "CN-0042"
FAUST_PAGES = (
    "/",
    "/table/",
    "/table/borrowers/",
    f"/table/borrowers/{BORROWER}/",
    "/router/",
    "/router/borrowers/",
    f"/router/borrowers/{BORROWER}/",
    "/graph/",
    "/stats/",
    "/assignment/",
    "/performance/",
)


@pytest.fixture(params=["memory://", "rocksdb://"])
def deployment(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path
) -> Iterator[Deployment]:
    # One partition: a second worker in the group then gets none, which holds it not ready.
    deployment = Deployment(kafka_bootstrap, tmp_path, partitions=1, store=request.param)
    try:
        yield deployment
    finally:
        deployment.stop_all()


def test_only_operator_endpoints_answer(deployment: Deployment) -> None:
    first = deployment.start_worker("w1")
    ready = deployment.wait_readiness(first, 200)
    assert ready == {"ready": True, "assigned_partitions": 1, "table_recovered": True,
                     "rebalancing": False}  # fmt: skip
    # The table holds this borrower's state (a phone number among it) when the pages are asked.
    deployment.send([call(BORROWER, at(1, 10), "voice", "no_answer",
                          contact_point="+8613800138000")])  # fmt: skip
    deployment.wait_consumed(1, first)

    assert first.get(LIVENESS_PATH) == (200, b'{"alive":true}')
    status, metrics = first.get(METRICS_PATH)
    assert status == 200
    assert b"reachwatch_events_consumed_total" in metrics
    for path in FAUST_PAGES:
        status, body = first.get(path)
        assert status == 404, f"{path} answered {status}: {body[:200]!r}"
        assert b"8613800138000" not in body

    # A second worker gets no partition while the first holds the only one: alive, not ready.
    second = deployment.start_worker("w2")
    waiting = deployment.wait_readiness(second, 503)
    deployment.wait_ready(second)  # it has joined the group and been given its (empty) share
    waiting = deployment.wait_readiness(second, 503)
    assert waiting["assigned_partitions"] == 0
    assert not waiting["ready"]
    assert second.get(LIVENESS_PATH)[0] == 200

    # The first one leaves: the partition moves, and readiness follows once the table is back.
    deployment.stop_worker(first)
    taken_over = deployment.wait_readiness(second, 200)
    assert taken_over["assigned_partitions"] == 1
    assert taken_over["table_recovered"]
