"""``GET /metrics``: Prometheus text format (prometheus-client).

The figures live in ``dialer.metrics.Metrics`` (one registry per service, so
tests can run several services in one process); the store-derived ones are
refreshed right before each scrape.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialer.web.context import context


async def metrics_page(request: Request) -> Response:
    ctx = context(request)
    engine = ctx.engine
    await ctx.metrics.refresh(
        ctx.store,
        engine.live_progress() if engine else {},
        engine.components() if engine else None,
    )
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics_page, methods=["GET"])]
