"""The dashboard: campaigns with live progress, Asterisk health, recent opt-outs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dialer.model.user import Session
from dialer.web.context import context
from dialer.web.ui.charts import bar_chart
from dialer.web.ui.core import page, render
from dialer.web.ui.progress import all_snapshots, event_stream, rendered

RECENT_DAYS = 7


def _servers(components: dict[str, Any] | None) -> list[dict[str, Any]]:
    if components is None:
        return []
    ami = components.get("ami", [])
    servers = ami if isinstance(ami, list) else [ami]
    return [s for s in servers if isinstance(s, dict)]


@page()
async def dashboard(request: Request, session: Session) -> Response:
    ctx = context(request)
    since = ctx.store.clock() - dt.timedelta(days=RECENT_DAYS)
    optouts = await ctx.store.history.revocations_by_channel(since)
    components = ctx.engine.components() if ctx.engine else None
    snapshots = await all_snapshots(ctx)
    return render(
        request,
        "dashboard.html",
        session,
        campaigns=snapshots,
        rendered=rendered(snapshots),
        servers=_servers(components),
        engine=components is not None,
        optouts=optouts,
        optout_chart=bar_chart(optouts, f"Opt-outs in the last {RECENT_DAYS} days by channel"),
        recent_days=RECENT_DAYS,
    )


@page()
async def progress_events(request: Request, session: Session) -> Response:
    ctx = context(request)
    only = request.query_params.get("campaign")
    if only:
        await ctx.store.campaigns.get(only)  # 404 for an unknown campaign
    return StreamingResponse(
        event_stream(request, ctx, [only] if only else None),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


routes = [
    Route("/", dashboard, methods=["GET"]),
    Route("/events/progress", progress_events, methods=["GET"]),
]
