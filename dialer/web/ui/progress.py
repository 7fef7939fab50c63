"""Campaign progress for the dashboard and the campaign page, live over
server-sent events (``text/event-stream``, the browser's EventSource).

A campaign the service is running reports its live figures (``EngineView.
live_progress``: done/total, outcomes, calls/s, ETA); any other campaign's
figures come from the store (latest outcome per contact), so a campaign run
from a terminal, or finished, shows its true state too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from dialer.web.context import WebContext

#: seconds between two events while a campaign runs / while none does
LIVE_INTERVAL_S = 1.0
IDLE_INTERVAL_S = 3.0
NOT_DONE = frozenset({"pending", "in-progress"})


async def snapshot(ctx: WebContext, name: str) -> dict[str, Any]:
    # the lifecycle state (draft, scheduled, running, paused ...) as the store holds it
    state = (await ctx.store.lifecycle.get(name)).state.value
    live = ctx.engine.live_progress().get(name) if ctx.engine else None
    if live:
        return {"campaign": name, "running": True, "state": state, **live}
    campaign = await ctx.store.campaigns.get(name)
    total, outcomes = await ctx.store.campaigns.progress_counts(campaign)
    done = sum(v for k, v in outcomes.items() if k not in NOT_DONE)
    return {
        "campaign": name,
        "running": False,
        "state": state,
        "done": done,
        "total": total,
        "outcomes": {k: v for k, v in outcomes.items() if k not in NOT_DONE},
        "calls_per_second": 0.0,
        "eta_seconds": None,
    }


def rendered(snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a page's server-rendered parts (state block, buttons, charts) were drawn
    from, embedded in the page (``data-rendered``): when the live feed differs, the
    page's script fetches those parts again, so nothing on one page contradicts
    the live progress card."""
    return [
        {"campaign": s["campaign"], "state": s["state"], "outcomes": s["outcomes"]}
        for s in snapshots
    ]


async def all_snapshots(ctx: WebContext) -> list[dict[str, Any]]:
    return [await snapshot(ctx, name) for name, _ in await ctx.store.campaigns.names()]


async def event_stream(
    request: Request, ctx: WebContext, names: list[str] | None
) -> AsyncIterator[str]:
    """One ``progress`` event per interval until the browser goes away."""
    yield "retry: 3000\n\n"
    while not await request.is_disconnected():
        chosen = names if names is not None else [n for n, _ in await ctx.store.campaigns.names()]
        data = [await snapshot(ctx, name) for name in chosen]
        yield f"event: progress\ndata: {json.dumps(data)}\n\n"
        running = any(item["running"] for item in data)
        await asyncio.sleep(LIVE_INTERVAL_S if running else IDLE_INTERVAL_S)
