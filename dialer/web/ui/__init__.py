"""The staff web console and the parent opt-out page (issue "Web admin UI").

``dialer.web.app.create_app`` mounts what ``routes(ctx)`` and ``middleware(ctx)``
return. Modules, one job each:

    security.py   sessions, CSRF tokens, one-time forms, roles
    forms.py      request body limit, uploads, form fields
    core.py       templates, page/action wrappers, flash messages
    auth.py       /login, /logout
    dashboard.py  /  and  /events/progress (server-sent events)
    recordings.py /recordings ...
    lists.py      /lists ...
    campaigns.py  /campaigns ...
    reports.py    /campaigns/NAME/report, the CSV, /compliance (C20)
    consent.py    /consent ...
    admin.py      /admin/users, /admin/callerids
    optout.py     /optout (public; also on its own address, see ``optout_app``)
    charts.py     SVG charts;  progress.py  live campaign figures

Server-rendered Jinja2 templates (``dialer/web/templates``); every form works
without JavaScript; ``static/app.js`` only adds live progress and drag and drop.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from dialer.web.context import WebContext
from dialer.web.ui import (
    admin,
    auth,
    campaigns,
    consent,
    dashboard,
    lists,
    optout,
    recordings,
    reports,
)
from dialer.web.ui.core import STATIC, UiState
from dialer.web.ui.forms import BodyLimit

#: the body limit covers the upload plus the form's other fields
FORM_OVERHEAD_BYTES = 1 << 20


def _state(ctx: WebContext) -> UiState:
    if "ui" not in ctx.extras:
        ctx.extras["ui"] = UiState.create(ctx)
    ui: UiState = ctx.extras["ui"]
    ctx.sessions = ui.guard  # the JSON API also accepts a console login
    return ui


def routes(ctx: WebContext) -> Sequence[BaseRoute]:
    _state(ctx)
    return [
        *auth.routes,
        *dashboard.routes,
        *recordings.routes,
        *lists.routes,
        *campaigns.routes,
        *reports.routes,
        *consent.routes,
        *admin.routes,
        *optout.routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def middleware(ctx: WebContext) -> Sequence[Middleware]:
    limit = ctx.settings.web.max_upload_mb * 2**20 + FORM_OVERHEAD_BYTES
    return [Middleware(BodyLimit, max_bytes=limit, shown_mb=ctx.settings.web.max_upload_mb)]
