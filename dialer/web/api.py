"""The JSON API under ``/api``: campaign list, status and control (contract 2).

Every handler is a few lines over a ``dialer.campaign.control`` use case, the
same functions the CLI calls; errors are ``DialerError``s the app turns into
JSON (404 unknown campaign, 409 a transition the state does not allow, 400 bad
input such as a start time in the past or a malformed body).

    GET  /api/campaigns                      list with states
    GET  /api/campaigns/{name}               status: state, schedule, progress, live figures
    POST /api/campaigns/{name}/start         {"at": "2026-12-03 07:00"} (optional)
    POST /api/campaigns/{name}/pause         {"reason": ...}
    POST /api/campaigns/{name}/resume
    POST /api/campaigns/{name}/cancel        {"reason": ... (required)}
    GET  /api/campaigns/{name}/preflight     ?at=2026-12-03%2007:00 (issue 14; dials nobody)
    POST /api/campaigns/{name}/approve       second-person approval (issue 14)

Every request is authenticated (``dialer.web.auth``): an API token
(``Authorization: Bearer``) or a console login; viewers may read, staff and
admins may also control. The authenticated user's name is who acts in the
audit log (C19); a ``by`` field in the body is ignored.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dialer.accounts.roles import Permission
from dialer.campaign import control
from dialer.campaign.approval import approve_campaign
from dialer.campaign.preflight_check import parse_start, run_preflight
from dialer.errors import InputError
from dialer.web.auth import api_user
from dialer.web.context import context

#: a control request body is a few short fields
MAX_BODY_BYTES = 4096


async def _body(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InputError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(v, str) for v in data.values() if v is not None
    ):
        raise InputError('request body must be a JSON object of strings, e.g. {"reason": "..."}')
    return {str(k): v for k, v in data.items() if v is not None}


def _live(request: Request) -> dict[str, dict[str, Any]]:
    engine = context(request).engine
    return engine.live_progress() if engine else {}


async def list_campaigns(request: Request) -> JSONResponse:
    await api_user(request, Permission.VIEW)
    ctx = context(request)
    rows = await control.list_campaigns(ctx.store)
    live = _live(request)
    return JSONResponse([{**row, "live": live.get(row["campaign"])} for row in rows])


async def campaign_status(request: Request) -> JSONResponse:
    await api_user(request, Permission.VIEW)
    ctx = context(request)
    name = request.path_params["name"]
    return JSONResponse(
        await control.campaign_status(ctx.store, ctx.settings, name, _live(request))
    )


async def start(request: Request) -> JSONResponse:
    user = await api_user(request, Permission.RUN_CAMPAIGNS)
    ctx, body = context(request), await _body(request)
    row = await control.start_campaign(
        ctx.store,
        ctx.settings,
        request.path_params["name"],
        by=user.name,
        at=body.get("at") or None,
    )
    return JSONResponse(row.to_json())


async def pause(request: Request) -> JSONResponse:
    user = await api_user(request, Permission.RUN_CAMPAIGNS)
    ctx, body = context(request), await _body(request)
    row = await control.pause_campaign(
        ctx.store,
        request.path_params["name"],
        by=user.name,
        reason=body.get("reason", ""),
    )
    return JSONResponse(row.to_json())


async def resume(request: Request) -> JSONResponse:
    user = await api_user(request, Permission.RUN_CAMPAIGNS)
    ctx = context(request)
    await _body(request)  # refuse a malformed body like the other commands
    row = await control.resume_campaign(ctx.store, request.path_params["name"], by=user.name)
    return JSONResponse(row.to_json())


async def cancel(request: Request) -> JSONResponse:
    user = await api_user(request, Permission.RUN_CAMPAIGNS)
    ctx, body = context(request), await _body(request)
    row = await control.cancel_campaign(
        ctx.store,
        request.path_params["name"],
        by=user.name,
        reason=body.get("reason", ""),
    )
    return JSONResponse(row.to_json())


async def preflight(request: Request) -> JSONResponse:
    await api_user(request, Permission.VIEW)
    ctx = context(request)
    at = request.query_params.get("at", "")
    start_at = (
        parse_start(at, ctx.settings.organisation.timezone, ctx.store.clock()) if at else None
    )
    report = await run_preflight(ctx.settings, ctx.store, request.path_params["name"], at=start_at)
    return JSONResponse(report)


async def approve(request: Request) -> JSONResponse:
    user = await api_user(request, Permission.RUN_CAMPAIGNS)
    ctx = context(request)
    await _body(request)  # refuse a malformed body like the other commands
    _approval, status = await approve_campaign(
        ctx.store, ctx.settings, request.path_params["name"], user.name
    )
    return JSONResponse(status.to_json())


routes = [
    Route("/api/campaigns", list_campaigns, methods=["GET"]),
    Route("/api/campaigns/{name}", campaign_status, methods=["GET"]),
    Route("/api/campaigns/{name}/start", start, methods=["POST"]),
    Route("/api/campaigns/{name}/pause", pause, methods=["POST"]),
    Route("/api/campaigns/{name}/resume", resume, methods=["POST"]),
    Route("/api/campaigns/{name}/cancel", cancel, methods=["POST"]),
    Route("/api/campaigns/{name}/preflight", preflight, methods=["GET"]),
    Route("/api/campaigns/{name}/approve", approve, methods=["POST"]),
]
