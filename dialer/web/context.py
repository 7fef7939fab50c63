"""What every route handler can reach: settings, the store, and the running engine.

``WebContext`` is built once by the service (``dialer.service.service``) and
handed to the app factory; handlers get it from ``request.app.state.ctx``.
``engine`` is None when the app runs without telephony (UI tests, tools): then
/healthz answers 503 and live figures are absent, everything else works.
The web layer never imports ``dialer.service`` (the service imports the web
layer): it sees the engine only through the ``EngineView`` protocol below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request

from dialer.metrics import Metrics
from dialer.model.user import Session
from dialer.settings import Settings
from dialer.store.store import Store


class EngineView(Protocol):
    """The running service as the HTTP layer sees it (read-only)."""

    def components(self) -> dict[str, Any]:
        """Health of each part: ``ami`` (list, one entry per Asterisk server),
        ``fastagi`` and ``scheduler``; each entry has a boolean ``ok``."""
        ...

    def live_progress(self) -> dict[str, dict[str, Any]]:
        """Per running campaign: done, total, outcomes, calls_per_second, eta_seconds."""
        ...


class SessionReader(Protocol):
    """The console's logged-in sessions (``dialer.web.ui.security.Guard``), so the
    JSON API accepts a logged-in browser as well as an API token."""

    async def session(self, request: Request) -> tuple[Session | None, bool]:
        """(the live session or None, whether a session cookie was presented)."""
        ...


@dataclass
class WebContext:
    settings: Settings
    store: Store
    engine: EngineView | None = None
    metrics: Metrics = field(default_factory=Metrics)
    #: set by the console UI when it is mounted; None: the API takes tokens only
    sessions: SessionReader | None = None
    #: room for the UI's own per-app objects (sessions, templates ...)
    extras: dict[str, Any] = field(default_factory=dict)


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx
