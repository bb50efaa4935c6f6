"""The worker's web port serves operators only: `/metrics`, liveness and readiness.

Faust's defaults also serve `/table/<name>/<key>/` (a borrower's whole state, contact points
included), `/router/` (which worker owns a key, and a proxy to it), `/graph/`, statistics and an
index page, all without authentication. Each is turned off here by its public setting; the index
Faust mounts at `/` whatever the settings say is left out by a driver subclass, so every path
but the three below answers 404.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import faust
from faust import web
from faust.web import drivers
from faust.web.drivers.aiohttp import Web as AiohttpWeb

METRICS_PATH = "/metrics"
LIVENESS_PATH = "/health/live"
READINESS_PATH = "/health/ready"
OPERATOR_PATHS = (METRICS_PATH, LIVENESS_PATH, READINESS_PATH)
_DRIVER_SCHEME = "reachwatch-operators"  # the `web` setting's URL scheme names the driver


class OperatorWeb(AiohttpWeb):
    """Faust's aiohttp server without its built-in pages: `production_blueprints` (the index at
    `/`) has no setting of its own; the other built-in blueprints are gated by WEB_SETTINGS."""

    production_blueprints = ()


def web_settings() -> dict[str, Any]:
    """Faust app settings for an operators-only web port (registers the driver once)."""
    drivers.DRIVERS.aliases.setdefault(_DRIVER_SCHEME, f"{__name__}:{OperatorWeb.__name__}")
    return {
        "web": f"{_DRIVER_SCHEME}://",
        "web_tables_enabled": False,
        "web_router_enabled": False,  # a single consumer group needs no key routing over HTTP
        "web_graph_enabled": False,
        "web_stats_enabled": False,
        "web_metrics_enabled": False,
        "web_in_thread": False,  # liveness must answer from the agents' event loop
    }


@dataclass(frozen=True)
class Readiness:
    """Ready = this worker owns input partitions, is not mid-rebalance, and its table has been
    recovered from the changelog since the last rebalance."""

    assigned_partitions: int
    table_recovered: bool
    rebalancing: bool

    @property
    def ready(self) -> bool:
        return self.assigned_partitions > 0 and self.table_recovered and not self.rebalancing

    def body(self) -> Mapping[str, Any]:
        return {"ready": self.ready, **asdict(self)}


def add_health_pages(app: faust.App, readiness: Callable[[], Readiness]) -> None:
    """Liveness answers from the event loop the agents run on (Faust's web server shares it
    unless `web_in_thread`), so an answer means the loop is not stuck; readiness answers 503
    until `readiness()` says ready."""

    @app.page(LIVENESS_PATH)
    async def liveness(self: web.View, request: web.Request) -> web.Response:
        return self.json({"alive": True})

    @app.page(READINESS_PATH)
    async def ready(self: web.View, request: web.Request) -> web.Response:
        state = readiness()
        return self.json(state.body(), status=200 if state.ready else 503)
