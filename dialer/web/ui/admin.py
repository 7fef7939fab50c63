"""Admin pages: users (add, disable) and the caller-ID allowlist (C14)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialer.accounts.roles import MATRIX, Permission, Role, parse_role
from dialer.accounts.users import add_user, disable_user, list_users
from dialer.errors import DialerError
from dialer.model.user import Session
from dialer.numbers import normalise
from dialer.web.context import context
from dialer.web.ui.core import action, field_errors, page, redirect, render
from dialer.web.ui.forms import Form


async def _users_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    ctx = context(request)
    return render(
        request,
        "users.html",
        session,
        users=await list_users(ctx.store),
        roles=[r.value for r in Role],
        matrix={r.value: sorted(p.value for p in MATRIX[r]) for r in Role},
        permissions=[p.value for p in Permission],
        errors=errors or {},
        values=values or {"role": "viewer"},
    )


@page(Permission.MANAGE_USERS)
async def users_page(request: Request, session: Session) -> Response:
    return await _users_page(request, session)


async def _users_failed(
    request: Request, session: Session, form: Form, exc: DialerError
) -> Response:
    values = {k: v for k, v in form.fields.items() if "password" not in k}
    return await _users_page(request, session, errors=field_errors(exc), values=values)


@action(Permission.MANAGE_USERS, on_error=_users_failed)
async def add(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    password = form.fields.get("password", "")
    if password != form.fields.get("password_again", ""):
        from dialer.errors import InputError

        raise InputError("the two passwords differ", field="password_again")
    user = await add_user(
        ctx.store, form.get("name"), parse_role(form.get("role")), password, by=session.user.name
    )
    return redirect(request, "/admin/users", f"User {user.name!r} added ({user.role.value}).")


@action(Permission.MANAGE_USERS)
async def disable(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    name = request.path_params["name"]
    await disable_user(ctx.store, name, by=session.user.name)
    return redirect(request, "/admin/users", f"User {name!r} disabled; their sessions ended.")


async def _callerids_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    ctx = context(request)
    return render(
        request,
        "callerids.html",
        session,
        caller_ids=await ctx.store.consent.caller_ids(),
        errors=errors or {},
        values=values or {},
    )


@page()
async def callerids_page(request: Request, session: Session) -> Response:
    return await _callerids_page(request, session)


async def _callerids_failed(
    request: Request, session: Session, form: Form, exc: DialerError
) -> Response:
    errors = field_errors(exc)
    if "" in errors:
        errors["number"] = errors.pop("")
    return await _callerids_page(request, session, errors=errors, values=dict(form.fields))


@action(Permission.MANAGE_CALLER_IDS, on_error=_callerids_failed)
async def add_callerid(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    number = normalise(form.get("number"), ctx.settings.organisation.default_region)
    await ctx.store.consent.add_caller_id(
        number, form.get("label") or "caller ID", session.user.name
    )
    return redirect(request, "/admin/callerids", f"Caller ID {number} allowed (C14).")


@action(Permission.MANAGE_CALLER_IDS, on_error=_callerids_failed)
async def remove_callerid(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    number = normalise(form.get("number"), ctx.settings.organisation.default_region)
    await ctx.store.consent.remove_caller_id(number, session.user.name)
    return redirect(request, "/admin/callerids", f"Caller ID {number} removed.")


routes = [
    Route("/admin/users", users_page, methods=["GET"]),
    Route("/admin/users", add, methods=["POST"]),
    Route("/admin/users/{name}/disable", disable, methods=["POST"]),
    Route("/admin/callerids", callerids_page, methods=["GET"]),
    Route("/admin/callerids", add_callerid, methods=["POST"]),
    Route("/admin/callerids/remove", remove_callerid, methods=["POST"]),
]
