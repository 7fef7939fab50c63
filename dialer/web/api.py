"""The JSON API under ``/api``: campaign list, status and control.

Every handler is a few lines over a library use-case function; errors are
``DialerError``s turned into JSON by the app (404 unknown campaign, 409 a
transition the state does not allow, 400 bad input).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dialer.campaign.report import campaign_report
from dialer.web.context import context


async def list_campaigns(request: Request) -> JSONResponse:
    ctx = context(request)
    rows = await ctx.store.campaigns.names()
    return JSONResponse([{"campaign": name, "purpose": purpose} for name, purpose in rows])


async def campaign_status(request: Request) -> JSONResponse:
    ctx = context(request)
    report = await campaign_report(ctx.store, request.path_params["name"])
    body = {k: report[k] for k in ("campaign", "contacts", "calls_placed", "outcomes")}
    return JSONResponse(body)


routes = [
    Route("/api/campaigns", list_campaigns, methods=["GET"]),
    Route("/api/campaigns/{name}", campaign_status, methods=["GET"]),
]
