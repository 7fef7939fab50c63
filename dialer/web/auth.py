"""Who is calling the JSON API, and may they (issue 9 item 6; contract 2).

Two ways in, checked in this order:

* ``Authorization: Bearer <token>``: a token from ``dialer users token NAME``
  (``dialer.accounts.tokens``). A browser never adds this header by itself, so
  a cross-site page cannot ride on it: no CSRF check is needed.
* the web console's session cookie (``dialer.web.ui.security``: HMAC-signed,
  HttpOnly, SameSite=Strict). A request that changes something (POST) with a
  cookie must also send the session's CSRF token in ``X-CSRF-Token``: a page
  from another site can neither read that token nor add a custom header
  without a CORS preflight, which this app never grants.

No credentials, an unknown or revoked token, or an ended session: 401 with
``WWW-Authenticate: Bearer``. A known user whose role lacks the permission
(viewers read; staff and admins control campaigns, ``accounts.roles``), or a
cookie POST without the CSRF token: 403. The user's name is what the control
use cases audit as ``by`` (C19). /healthz, /metrics and the SMS webhook (its
own signature check) do not come through here.
"""

from __future__ import annotations

import hmac

import structlog
from starlette.requests import Request

from dialer.accounts.roles import Permission, allows
from dialer.accounts.tokens import user_for_token
from dialer.errors import NotAuthenticated, NotPermitted
from dialer.model.user import User
from dialer.web.context import context

log = structlog.get_logger("dialer.api")

CSRF_HEADER = "X-CSRF-Token"
#: methods that change nothing: no CSRF token needed with a cookie
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def api_user(request: Request, permission: Permission) -> User:
    """The authenticated user allowed ``permission``, or NotAuthenticated/NotPermitted."""
    user = await _authenticate(request)
    if not allows(user.role, permission):
        log.warning(
            "api.refused",
            user=user.name,
            role=user.role.value,
            needs=permission.value,
            path=request.url.path,
        )
        raise NotPermitted(
            f"user {user.name!r} ({user.role.value}) may not do this: it needs permission "
            f"to {permission.value}"
        )
    return user


async def _authenticate(request: Request) -> User:
    ctx = context(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer <API token>'")
        user = await user_for_token(ctx.store, token.strip(), days=ctx.settings.web.api_token_days)
        if user is None:
            log.warning("api.bad_token", path=request.url.path)
            raise NotAuthenticated(
                "the API token is unknown, revoked, expired (web.api_token_days), or its "
                "user is disabled (see: dialer users tokens; create one with: dialer users "
                "token NAME)"
            )
        return user
    if ctx.sessions is not None:
        session, presented = await ctx.sessions.session(request)
        if session is not None:
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not sent or not hmac.compare_digest(sent, session.csrf_token):
                    raise NotPermitted(
                        f"a change sent with a console login needs the page's CSRF token in "
                        f"the {CSRF_HEADER} header"
                    )
            return session.user
        if presented:
            raise NotAuthenticated("the console session has ended; log in again")
    raise NotAuthenticated(
        "log in to the console, or send 'Authorization: Bearer <API token>' "
        "(create one with: dialer users token NAME)"
    )
