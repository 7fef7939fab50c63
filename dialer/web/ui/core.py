"""The console's plumbing: templates, the per-app state, and the two wrappers
every page uses. ``page`` shows something (GET); ``action`` changes something
(POST): session, role, CSRF token and one-time form id are checked before the
handler runs, and a refused request (``DialerError``) re-renders the form with
the message next to the field at fault and the matching HTTP status, after
releasing the form id (nothing was done, so the fixed form may be sent again).
Handlers themselves only parse the form and call a use-case function.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dialer.accounts.roles import Permission, allows
from dialer.accounts.users import LoginLimits
from dialer.errors import DialerError
from dialer.masking import mask_text
from dialer.model.user import Session
from dialer.ratelimit import Limiter
from dialer.web.context import WebContext, context
from dialer.web.ui.display import figure, label, local_time
from dialer.web.ui.forms import Form, UploadTooLarge, read_form
from dialer.web.ui.security import (
    AlreadySubmitted,
    Guard,
    SessionExpired,
    require,
    status_for,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
STATIC = Path(__file__).resolve().parents[1] / "static"
FLASH_COOKIE = "dialer_flash"
LOGIN_WINDOW_S = 15 * 60


@dataclass
class UiState:
    ctx: WebContext
    guard: Guard
    env: jinja2.Environment
    login_limits: LoginLimits
    optout_per_address: Limiter
    optout_per_number: Limiter
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, ctx: WebContext) -> UiState:
        web = ctx.settings.web
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["mask"] = mask_text
        env.filters["local"] = local_time(ctx.settings.organisation.timezone)
        env.filters["figure"] = figure
        env.filters["label"] = label
        env.globals["allows"] = allows
        env.globals["P"] = Permission
        return cls(
            ctx=ctx,
            guard=Guard.create(ctx.settings, ctx.store),
            env=env,
            login_limits=LoginLimits(
                Limiter(web.login_failures_per_account, LOGIN_WINDOW_S),
                Limiter(web.login_attempts_per_address, LOGIN_WINDOW_S),
            ),
            optout_per_address=Limiter(web.optout_per_address_per_hour, 3600),
            optout_per_number=Limiter(web.optout_per_number_per_day, 86400),
        )


def state(request: Request) -> UiState:
    ui: UiState = context(request).extras["ui"]
    return ui


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def render(
    request: Request,
    template: str,
    session: Session | None,
    *,
    status: int = 200,
    **data: Any,
) -> HTMLResponse:
    ui = state(request)
    org = ui.ctx.settings.organisation.name
    flash = _read_flash(request)
    body = ui.env.get_template(template).render(
        request=request,
        user=session.user if session else None,
        csrf=session.csrf_token if session else "",
        org=org,
        flash=flash,
        form_id=_form_id(),
        **data,
    )
    response = HTMLResponse(body, status_code=status)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    # the console's pages are private: never cached by a shared proxy
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_id() -> str:
    import secrets

    return secrets.token_urlsafe(16)


def _flash_sig(request: Request, text: str) -> str:
    return hmac.new(
        state(request).guard.key, b"flash\x1f" + text.encode(), hashlib.sha256
    ).hexdigest()[:32]


def redirect(request: Request, url: str, flash: str = "") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if flash:
        text = quote(flash[:300])
        response.set_cookie(
            FLASH_COOKIE,
            f"{text}|{_flash_sig(request, text)}",
            max_age=60,
            httponly=True,
            samesite="strict",
            path="/",
        )
    return response


def _read_flash(request: Request) -> str:
    from urllib.parse import unquote

    raw = request.cookies.get(FLASH_COOKIE, "")
    text, _, sig = raw.rpartition("|")
    if text and hmac.compare_digest(sig, _flash_sig(request, text)):
        return unquote(text)
    return ""


Page = Callable[[Request, Session], Awaitable[Response]]
ErrorPage = Callable[[Request, Session, Form, DialerError], Awaitable[Response]]
Action = Callable[[Request, Session, Form], Awaitable[Response]]


def _login_redirect(request: Request, expired: bool) -> Response:
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return RedirectResponse(f"/login?next={target}{'&expired=1' if expired else ''}", 303)


def error_page(request: Request, session: Session | None, exc: DialerError) -> HTMLResponse:
    return render(
        request,
        "error.html",
        session,
        status=status_for(exc),
        message=mask_text(str(exc)),
        result_url=exc.result_url if isinstance(exc, AlreadySubmitted) else "",
    )


def page(
    permission: Permission = Permission.VIEW,
) -> Callable[[Page], Callable[[Request], Awaitable[Response]]]:
    def wrap(handler: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session, presented = await state(request).guard.session(request)
            if session is None:
                return _login_redirect(request, presented)
            try:
                require(session, permission)
                return await handler(request, session)
            except DialerError as exc:
                return error_page(request, session, exc)

        return endpoint

    return wrap


def action(
    permission: Permission, on_error: ErrorPage | None = None, *, once: bool = True
) -> Callable[[Action], Callable[[Request], Awaitable[Response]]]:
    """``once``: the form acts at most once (everything that changes something);
    a look-up form (``once=False``) may be sent again."""

    def wrap(handler: Action) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            ui = state(request)
            session, presented = await ui.guard.session(request)
            if session is None:
                exc = SessionExpired(
                    "Your session has expired (or you were logged out), so nothing was done. "
                    "Log in again, then send the form again."
                    if presented
                    else "Log in first; nothing was done."
                )
                return render_anon(
                    request,
                    "login.html",
                    status=401,
                    error=str(exc),
                    next=request.url.path,
                    name="",
                )
            form_id = ""
            try:
                async with read_form(request) as form:
                    ui.guard.check_csrf(session, form.get("csrf_token"))
                    require(session, permission)
                    if once:
                        form_id = form.get("form_id")
                        await ui.guard.claim_form(session, form_id)
                    try:
                        response = await handler(request, session, form)
                    except DialerError as exc:
                        if form_id:
                            await ui.ctx.store.users.release_form(form_id)
                        if on_error is None:
                            return error_page(request, session, exc)
                        failed = await on_error(request, session, form, exc)
                        failed.status_code = status_for(exc)
                        return failed
                    location = response.headers.get("location", "")
                    if location and form_id:
                        await ui.ctx.store.users.form_result(form_id, location)
                    return response
            except UploadTooLarge as exc:
                # refused while the body arrived: no field was read, nothing was done.
                # Show it at the upload form, next to the file field (still 413)
                if on_error is None:
                    return error_page(request, session, exc)
                try:
                    require(session, permission)
                except DialerError as refused:
                    return error_page(request, session, refused)
                failed = await on_error(request, session, Form({}, {}, {}), exc)
                failed.status_code = status_for(exc)
                return failed
            except DialerError as exc:
                return error_page(request, session, exc)

        return endpoint

    return wrap


def render_anon(request: Request, template: str, *, status: int = 200, **data: Any) -> HTMLResponse:
    """A page with a form shown without a session (login, opt-out): its token is
    bound to a cookie set on this very response."""
    guard = state(request).guard
    nonce, token = guard.anon_token(request)
    response = render(request, template, None, status=status, anon_token=token, **data)
    guard.set_anon_cookie(request, response, nonce)
    return response


def field_errors(exc: DialerError) -> dict[str, str]:
    """Each problem's message under its field ('' for a problem of the whole form)."""
    errors: dict[str, str] = {}
    for problem in (exc, *exc.also):
        key = problem.field or ""
        errors.setdefault(key, mask_text(str(problem)))
    return errors
