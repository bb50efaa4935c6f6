"""The worker's web port on a live worker: operators' endpoints answer, Faust's table, router,
graph, statistics and index pages do not, and readiness follows assignment and recovery."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.worker.web import LIVENESS_PATH, METRICS_PATH, READINESS_PATH
from tests.support.pipeline import Deployment, RunningWorker
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


def get(worker: RunningWorker, path: str) -> tuple[int, bytes]:
    """(status, body); an HTTP error status is an answer too."""
    url = f"http://127.0.0.1:{worker.web_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def readiness(worker: RunningWorker) -> tuple[int, dict] | None:
    """The readiness answer, or None while the port does not answer yet."""
    try:
        status, body = get(worker, READINESS_PATH)
    except OSError:
        return None
    return status, json.loads(body)


def wait_readiness(
    deployment: Deployment, worker: RunningWorker, status: int, timeout_s: float = 90.0
) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = readiness(worker)
        if answer is not None and answer[0] == status:
            return answer[1]
        if worker.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"readiness never answered {status} (last: {answer})\n"
                                 f"{deployment.logs()}")  # fmt: skip
        time.sleep(0.2)


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
    ready = wait_readiness(deployment, first, 200)
    assert ready == {"ready": True, "assigned_partitions": 1, "table_recovered": True,
                     "rebalancing": False}  # fmt: skip
    # The table holds this borrower's state (a phone number among it) when the pages are asked.
    deployment.send([call(BORROWER, at(1, 10), "voice", "no_answer",
                          contact_point="+8613800138000")])  # fmt: skip
    deployment.wait_consumed(1, first)

    assert get(first, LIVENESS_PATH) == (200, b'{"alive":true}')
    status, metrics = get(first, METRICS_PATH)
    assert status == 200
    assert b"reachwatch_events_consumed_total" in metrics
    for path in FAUST_PAGES:
        status, body = get(first, path)
        assert status == 404, f"{path} answered {status}: {body[:200]!r}"
        assert b"8613800138000" not in body

    # A second worker gets no partition while the first holds the only one: alive, not ready.
    second = deployment.start_worker("w2")
    waiting = wait_readiness(deployment, second, 503)
    deployment.wait_ready(second)  # it has joined the group and been given its (empty) share
    waiting = wait_readiness(deployment, second, 503)
    assert waiting["assigned_partitions"] == 0
    assert not waiting["ready"]
    assert get(second, LIVENESS_PATH)[0] == 200

    # The first one leaves: the partition moves, and readiness follows once the table is back.
    deployment.stop_worker(first)
    taken_over = wait_readiness(deployment, second, 200)
    assert taken_over["assigned_partitions"] == 1
    assert taken_over["table_recovered"]
