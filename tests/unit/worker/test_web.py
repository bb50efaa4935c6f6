"""The operators-only web port, served by Faust's own aiohttp application without a broker."""

from __future__ import annotations

import faust
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.worker.web import (
    LIVENESS_PATH,
    OPERATOR_PATHS,
    READINESS_PATH,
    Readiness,
    add_health_pages,
    web_settings,
)

FAUST_PAGES = ("/", "/table/", "/table/borrowers/", "/router/", "/graph/", "/stats/",
               "/assignment/", "/performance/")  # fmt: skip


def faust_app(readiness: Readiness, **settings: object) -> faust.App:
    app = faust.App("web-test", **settings)

    @app.page("/metrics")
    async def metrics(self: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return self.text("metrics")

    app.Table("borrowers", default=None)
    add_health_pages(app, lambda: readiness)
    return app


async def statuses(app: faust.App, paths: tuple[str, ...]) -> dict[str, int]:
    web = app.web
    web.init_server()
    async with TestClient(TestServer(web.web_app)) as client:
        return {path: (await client.get(path)).status for path in paths}


READY = Readiness(assigned_partitions=2, table_recovered=True, rebalancing=False)


async def test_every_faust_page_is_404_and_operators_paths_answer() -> None:
    answers = await statuses(faust_app(READY, **web_settings()), FAUST_PAGES + OPERATOR_PATHS)
    assert answers == {**dict.fromkeys(FAUST_PAGES, 404), **dict.fromkeys(OPERATOR_PATHS, 200)}


async def test_faust_defaults_would_serve_the_table() -> None:
    """What the settings turn off: without them Faust serves tables, router and an index."""
    answers = await statuses(faust_app(READY), ("/", "/table/", "/router/"))
    assert answers == {"/": 200, "/table/": 200, "/router/": 200}


@pytest.mark.parametrize(
    "readiness",
    [
        Readiness(assigned_partitions=0, table_recovered=True, rebalancing=False),
        Readiness(assigned_partitions=2, table_recovered=False, rebalancing=False),
        Readiness(assigned_partitions=2, table_recovered=True, rebalancing=True),
    ],
)
async def test_not_ready_answers_503_while_alive(readiness: Readiness) -> None:
    app = faust_app(readiness, **web_settings())
    assert await statuses(app, (READINESS_PATH, LIVENESS_PATH)) == {
        READINESS_PATH: 503,
        LIVENESS_PATH: 200,
    }
