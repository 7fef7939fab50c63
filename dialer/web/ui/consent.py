"""Consent: look up a number's history, revoke on a parent's behalf (channel
``staff``), import a consent file. Look-ups are POSTed, so a number never sits
in a URL (browser history, proxy logs: C18)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialer.accounts.roles import Permission
from dialer.consent.model import RevocationChannel
from dialer.csvfiles import CONSENT_COLUMNS
from dialer.errors import DialerError, InputError
from dialer.masking import mask_number
from dialer.model.user import Session
from dialer.usecases.consent import import_consents, lookup, revoke
from dialer.web.context import context
from dialer.web.ui.core import action, field_errors, page, render
from dialer.web.ui.forms import Form


async def _page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    history: dict[str, Any] | None = None,
    done: str = "",
) -> Response:
    return render(
        request,
        "consent.html",
        session,
        errors=errors or {},
        values=values or {},
        history=history,
        done=done,
        columns=CONSENT_COLUMNS,
    )


@page()
async def consent_page(request: Request, session: Session) -> Response:
    return await _page(request, session)


async def _failed(request: Request, session: Session, form: Form, exc: DialerError) -> Response:
    errors = field_errors(exc)
    for key, path in form.files.items():
        errors = {
            k: v.replace(str(path), form.names.get(key, path.name)) for k, v in errors.items()
        }
    # the typed number is never echoed back into the page
    values = {k: v for k, v in form.fields.items() if k not in ("number", "revoke_number")}
    return await _page(request, session, errors=errors, values=values)


@action(Permission.VIEW, on_error=_failed, once=False)
async def look_up(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    history = await lookup(ctx.settings, ctx.store, form.get("number"))
    await ctx.store.users.record_action(
        session.user.name, "consent-lookup", {"number": history["number"]}
    )
    return await _page(request, session, history=history)


@action(Permission.MANAGE_CONSENT, on_error=_failed)
async def revoke_for_parent(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    if not form.flag("confirm"):
        raise InputError(
            "tick the box to confirm that the parent asked to stop these calls", field="confirm"
        )
    revoked = await revoke(
        ctx.settings,
        ctx.store,
        form.get("revoke_number"),
        RevocationChannel.STAFF,
        session.user.name,
        ref=form.get("ref"),
    )
    history = await ctx.store.history.number_history(revoked.number)
    return await _page(
        request,
        session,
        history=history,
        done=f"Revocation {revoked.result.revocation_id} recorded for "
        f"{mask_number(revoked.number)}: no campaign will call this number again "
        "(emergency alerts only with an audited override, C6).",
    )


@action(Permission.MANAGE_CONSENT, on_error=_failed)
async def import_file(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    file = form.files.get("file")
    if file is None:
        raise InputError("Choose a consent file (CSV).", field="file")
    count = await import_consents(
        ctx.settings,
        ctx.store,
        file,
        session.user.name,
        shown_name=form.names["file"],
        no_contact=form.flag("no_contact"),  # C3: rows that name nobody, said so
    )
    return await _page(
        request, session, done=f"Imported {count} consent records from {form.names['file']}."
    )


routes = [
    Route("/consent", consent_page, methods=["GET"]),
    Route("/consent/lookup", look_up, methods=["POST"]),
    Route("/consent/revoke", revoke_for_parent, methods=["POST"]),
    Route("/consent/import", import_file, methods=["POST"]),
]
