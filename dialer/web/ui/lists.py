"""Contact lists: upload an SIS export, see refused rows (row number and reason)
and the counts per language."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialer.accounts.roles import Permission
from dialer.csvfiles import ID_COLUMNS, LANGUAGE_COLUMNS, PHONE_COLUMNS
from dialer.errors import DialerError, InputError
from dialer.model.user import Session
from dialer.usecases.contacts import import_contacts
from dialer.web.context import context
from dialer.web.ui.core import action, page, render
from dialer.web.ui.forms import Form

#: refused rows shown on the result page (the rest are counted)
SHOWN_REFUSED_ROWS = 200


async def _page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    result: object = None,
    status: int = 200,
) -> Response:
    ctx = context(request)
    return render(
        request,
        "lists.html",
        session,
        status=status,
        lists=await ctx.store.contacts.lists(),
        languages=await ctx.store.contacts.language_counts(),
        errors=errors or {},
        values=values or {},
        result=result,
        shown_refused=SHOWN_REFUSED_ROWS,
        columns={"phone": PHONE_COLUMNS, "id": ID_COLUMNS, "language": LANGUAGE_COLUMNS},
    )


@page()
async def lists_page(request: Request, session: Session) -> Response:
    return await _page(request, session)


async def _failed(request: Request, session: Session, form: Form, exc: DialerError) -> Response:
    message = str(exc)
    for key, path in form.files.items():
        message = message.replace(str(path), form.names.get(key, path.name))
    return await _page(
        request, session, errors={exc.field or "file": message}, values=dict(form.fields)
    )


@action(Permission.MANAGE_CONTACTS, on_error=_failed)
async def upload(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    file = form.files.get("file")
    if file is None:
        raise InputError(
            "Choose a CSV file (an export from your student information system).", field="file"
        )
    result = await import_contacts(
        ctx.settings,
        ctx.store,
        file,
        form.get("list"),
        session.user.name,
        replace=form.flag("replace"),
        strict=form.flag("strict"),
        shown_name=form.names["file"],
    )
    # the result (with its refused rows) is shown at once, not after a redirect:
    # the refused rows are not stored anywhere, on purpose (they hold numbers)
    return await _page(request, session, result=result)


routes = [
    Route("/lists", lists_page, methods=["GET"]),
    Route("/lists", upload, methods=["POST"]),
]
