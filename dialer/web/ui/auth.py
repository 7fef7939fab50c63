"""Log in and log out (accounts: ``dialer.accounts.users``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialer.accounts.users import LoginRefused, authenticate
from dialer.errors import DialerError
from dialer.web.ui.core import address, redirect, render_anon, state
from dialer.web.ui.forms import read_form


def _safe_next(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def login_page(request: Request) -> Response:
    session, _ = await state(request).guard.session(request)
    target = _safe_next(request.query_params.get("next", "/"))
    if session is not None:
        return redirect(request, target)
    expired = request.query_params.get("expired") == "1"
    return render_anon(
        request,
        "login.html",
        error="Your session has expired; please log in again." if expired else "",
        next=target,
        name="",
    )


async def login(request: Request) -> Response:
    ui = state(request)
    try:
        async with read_form(request) as form:
            name, target = form.get("name"), _safe_next(form.get("next", "/"))
            try:
                ui.guard.check_anon_token(request, form.get("anon_token"))
                user = await authenticate(
                    ui.ctx.store, name, form.fields.get("password", ""), address(request),
                    ui.login_limits,
                )  # fmt: skip
            except LoginRefused as exc:
                status = 429 if exc.retry_after_s else 401
                refused = render_anon(
                    request, "login.html", status=status, error=str(exc), next=target, name=name
                )
                if exc.retry_after_s:
                    refused.headers["Retry-After"] = str(int(exc.retry_after_s) + 1)
                return refused
    except DialerError as exc:
        return render_anon(request, "login.html", status=403, error=str(exc), next="/", name="")
    response = redirect(request, target)
    await ui.guard.open_session(request, response, user)
    return response


async def logout(request: Request) -> Response:
    ui = state(request)
    session, _ = await ui.guard.session(request)
    response = redirect(request, "/login")
    if session is None:
        return response
    async with read_form(request) as form:
        try:
            ui.guard.check_csrf(session, form.get("csrf_token"))
        except DialerError:
            return response  # a forged logout changes nothing
    await ui.ctx.store.users.record_action(session.user.name, "logout", {})
    await ui.guard.close_session(request, response)
    return response


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
