"""The app factory: one Starlette app composed of small routers.

    /healthz              health.py    readiness (503 when not ready)
    /metrics              metrics.py   Prometheus text format
    /api/...              api.py       JSON API (campaign list, status, control);
                                       auth.py: an API token or a console login
    /sms/inbound          webhooks.py  SMS provider webhooks (C5)
    everything else       ui/          the staff UI and the parent opt-out page,
                                       mounted when the package is present

The UI package plugs in through two optional functions in ``dialer.web.ui``:
``routes(ctx) -> Sequence[BaseRoute]`` and ``middleware(ctx) -> Sequence[Middleware]``.
Its routes come last, so they never shadow the API, health or webhooks.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from dialer.errors import (
    DialerError,
    EngineBusyError,
    InputError,
    NotAuthenticated,
    NotFoundError,
    NotPermitted,
    StateError,
)
from dialer.masking import mask_text
from dialer.web import api, health, metrics, webhooks
from dialer.web.context import WebContext

UI_MODULE = "dialer.web.ui"


def _status_for(exc: DialerError) -> int:
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, StateError | EngineBusyError):
        return 409
    if isinstance(exc, InputError):
        return 400
    return 500


async def dialer_error(request: Request, exc: Exception) -> Response:
    """A DialerError becomes one clear JSON message (masked, C18) and a fitting status."""
    assert isinstance(exc, DialerError)
    # RFC 6750 section 3: a 401 names the scheme the client should use
    unauthenticated = isinstance(exc, NotAuthenticated)
    headers = {"WWW-Authenticate": 'Bearer realm="dialer"'} if unauthenticated else None
    return JSONResponse(
        {"error": mask_text(str(exc))}, status_code=_status_for(exc), headers=headers
    )


def _ui_parts(ctx: WebContext) -> tuple[Sequence[BaseRoute], Sequence[Middleware]]:
    try:
        ui: Any = importlib.import_module(UI_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != UI_MODULE:
            raise  # a broken UI must fail loudly, not vanish
        return [], []
    routes = ui.routes(ctx) if hasattr(ui, "routes") else []
    middleware = ui.middleware(ctx) if hasattr(ui, "middleware") else []
    return list(routes), list(middleware)


def create_app(ctx: WebContext) -> Starlette:
    ui_routes, ui_middleware = _ui_parts(ctx)
    app = Starlette(
        routes=[
            *health.routes,
            *metrics.routes,
            *api.routes,
            *webhooks.routes,
            *ui_routes,
        ],
        middleware=ui_middleware,
        exception_handlers={DialerError: dialer_error},
    )
    app.state.ctx = ctx
    return app
