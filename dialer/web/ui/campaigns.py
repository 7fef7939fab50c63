"""Campaigns: list, create (the CLI's checks, each shown next to its field),
the campaign page with live progress, the preflight shown before every start
and the second operator's approval (issue 14), and the emergency override (C6)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialer.accounts.roles import Permission
from dialer.audio.templates import READY_TEMPLATES
from dialer.campaign.approval import approve_campaign
from dialer.campaign.control import (
    campaign_status,
    cancel_campaign,
    parse_start_time,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from dialer.campaign.preflight_check import run_preflight
from dialer.campaign.testcall import place_test_call
from dialer.consent.model import EmergencyCategory, Purpose
from dialer.errors import DialerError, InputError
from dialer.model.user import Session
from dialer.usecases.campaigns import CampaignRequest, create_campaign, set_override
from dialer.web.context import context
from dialer.web.ui.charts import bar_chart
from dialer.web.ui.core import action, field_errors, page, redirect, render
from dialer.web.ui.forms import Form
from dialer.web.ui.progress import all_snapshots, rendered, snapshot
from dialer.web.ui.security import status_for

#: C15: a national DNC copy older than this stops a telemarketing campaign
DNC_MAX_AGE_DAYS = 31


@page()
async def list_page(request: Request, session: Session) -> Response:
    snapshots = await all_snapshots(context(request))
    return render(
        request, "campaigns.html", session, campaigns=snapshots, rendered=rendered(snapshots)
    )


async def _form_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    ctx = context(request)
    recordings = sorted({r.name for r in await ctx.store.recordings.all()})
    caller_ids = await ctx.store.consent.caller_ids()
    as_of = await ctx.store.consent.national_dnc_as_of()
    today = ctx.store.clock().date()
    dnc_warning = (
        "Telemarketing only (C15): no national do-not-call copy is loaded; a telemarketing "
        "campaign cannot start until one is imported (dialer dnc import)."
        if as_of is None
        else f"Telemarketing only (C15): the national do-not-call copy is "
        f"{(today - as_of).days} days old (as of {as_of}); a telemarketing campaign "
        f"cannot start with a copy older than {DNC_MAX_AGE_DAYS} days."
        if (today - as_of).days > DNC_MAX_AGE_DAYS
        else ""
    )
    return render(
        request,
        "campaign_new.html",
        session,
        values=values or {"purpose": "school"},
        errors=errors or {},
        purposes=[p.value for p in Purpose],
        categories=[c.value for c in EmergencyCategory],
        lists=await ctx.store.contacts.lists(),
        recordings=recordings,
        templates=[f"template:{name}" for name in sorted(READY_TEMPLATES)],
        caller_ids=[(number, label) for number, label, _ in caller_ids],
        dnc_warning=dnc_warning,
        default_attempts=ctx.settings.engine.max_attempts,
    )


@page(Permission.RUN_CAMPAIGNS)
async def new_page(request: Request, session: Session) -> Response:
    return await _form_page(request, session)


def _request(form: Form) -> CampaignRequest:
    def number(key: str, default: int) -> int:
        text = form.get(key)
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            raise InputError(f"{key.replace('_', ' ')} must be a whole number", field=key) from None

    purpose_text = form.get("purpose")
    try:
        purpose = Purpose(purpose_text)
    except ValueError:
        raise InputError(
            f"C1: choose a purpose ({', '.join(p.value for p in Purpose)})", field="purpose"
        ) from None
    category_text = form.get("category")
    try:
        category = EmergencyCategory(category_text) if category_text else None
    except ValueError:
        raise InputError(f"C1: unknown category {category_text!r}", field="category") from None
    if not form.get("name"):
        raise InputError("give the campaign a name", field="name")
    return CampaignRequest(
        name=form.get("name"),
        purpose=purpose,
        list_name=form.get("list"),
        message=form.get("message"),
        caller_id=form.get("caller_id"),
        identification=form.get("identification"),
        # a category only means something for an emergency: the form keeps the
        # select visible for all purposes (no JavaScript needed), so ignore it otherwise
        category=category if purpose is Purpose.EMERGENCY else None,
        authorized_by=form.get("authorized_by") if purpose is Purpose.EMERGENCY else "",
        window=form.get("window"),
        max_attempts=number("max_attempts", 0),
        retry_delay=number("retry_delay", -1),
        residential_exemption=form.flag("residential_exemption"),
    )


async def _create_failed(
    request: Request, session: Session, form: Form, exc: DialerError
) -> Response:
    return await _form_page(request, session, values=dict(form.fields), errors=field_errors(exc))


@action(Permission.RUN_CAMPAIGNS, on_error=_create_failed)
async def create(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    campaign = await create_campaign(ctx.settings, ctx.store, _request(form), session.user.name)
    return redirect(
        request,
        f"/campaigns/{campaign.name}",
        f"Campaign {campaign.name!r} created: every rule checked, message validated (C8-C11).",
    )


async def _detail_data(request: Request) -> dict[str, Any]:
    ctx = context(request)
    campaign = await ctx.store.campaigns.get(request.path_params["name"])
    progress = await snapshot(ctx, campaign.name)
    status = await campaign_status(ctx.store, ctx.settings, campaign.name)
    return {
        "campaign": campaign,
        "progress": progress,
        # the state block, its buttons and the chart are drawn from this snapshot
        # (not from the separate status read) so they agree with the progress card
        "rendered": rendered([progress]),
        "chart": bar_chart(progress["outcomes"], f"Outcomes of {campaign.name}"),
        "lifecycle": {**status, "state": progress["state"]},
        "timezone": ctx.settings.organisation.timezone,
    }


@page()
async def detail(request: Request, session: Session) -> Response:
    data = await _detail_data(request)
    return render(request, "campaign.html", session, errors={}, values={}, **data)


async def _override_failed(
    request: Request, session: Session, form: Form, exc: DialerError
) -> Response:
    data = await _detail_data(request)
    errors = field_errors(exc)
    if "" in errors:
        errors["reason"] = errors.pop("")
    return render(
        request, "campaign.html", session, errors=errors, values=dict(form.fields), **data
    )


@action(Permission.OVERRIDE, on_error=_override_failed)
async def override(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    name = request.path_params["name"]
    if not form.flag("confirm"):
        raise InputError(
            "C6: tick the box to confirm that revoked numbers must be called", field="confirm"
        )
    await set_override(ctx.store, name, session.user.name, form.get("reason"))
    return redirect(
        request,
        f"/campaigns/{name}",
        f"C6 override recorded for {name!r} by {session.user.name}: revoked numbers will be "
        "called. This is in the audit log.",
    )


#: template texts listed on the preflight page (the rest: ``campaign preflight --json``)
SHOWN_TEXTS = 50


async def _preflight_page(
    request: Request,
    session: Session,
    at: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """The preflight at ``at`` (empty: now), with the approve and confirm buttons.

    Like ``dialer campaign start`` on a terminal: the summary first, then the
    question; nothing is dialled or written to show it. A start time that
    cannot be read is shown next to the campaign page's time field instead.
    """
    ctx = context(request)
    name = request.path_params["name"]
    try:
        start_at = (
            parse_start_time(at, ctx.settings.organisation.timezone, ctx.store.clock())
            if at
            else None
        )
    except InputError as exc:
        data = await _detail_data(request)
        return render(
            request,
            "campaign.html",
            session,
            status=status_for(exc),
            errors={"at": str(exc)},
            values={"at": at},
            **data,
        )
    report = await run_preflight(ctx.settings, ctx.store, name, at=start_at)
    texts = report["templates"] or {"texts": [], "texts_not_listed": 0}
    more = max(0, len(texts["texts"]) - SHOWN_TEXTS) + texts["texts_not_listed"]
    return render(
        request,
        "preflight.html",
        session,
        status=200,
        report=report,
        at=at,
        errors=errors or {},
        values=values or {},
        more_texts=more,
    )


@page()
async def preflight(request: Request, session: Session) -> Response:
    return await _preflight_page(request, session, request.query_params.get("at", "").strip())


async def _approve_failed(
    request: Request, session: Session, form: Form, exc: DialerError
) -> Response:
    errors = field_errors(exc)
    return await _preflight_page(
        request, session, form.get("at"), errors={"approve": " ".join(errors.values())}
    )


@action(Permission.RUN_CAMPAIGNS, on_error=_approve_failed)
async def approve(request: Request, session: Session, form: Form) -> Response:
    """The signed-in operator approves (never the campaign's creator; audited)."""
    ctx = context(request)
    name = request.path_params["name"]
    approval, _status = await approve_campaign(ctx.store, ctx.settings, name, session.user.name)
    at = form.get("at")
    return redirect(
        request,
        f"/campaigns/{name}/preflight" + (f"?at={quote(at)}" if at else ""),
        f"Campaign {name!r} approved by {approval.approved_by}.",
    )


async def _test_call_failed(
    request: Request, session: Session, form: Form, exc: DialerError
) -> Response:
    errors = field_errors(exc)
    return await _preflight_page(
        request,
        session,
        form.get("at"),
        errors={"test_call": " ".join(errors.values())},
        values=dict(form.fields),
    )


@action(Permission.RUN_CAMPAIGNS, on_error=_test_call_failed)
async def test_call(request: Request, session: Session, form: Form) -> Response:
    """``dialer campaign test-call`` from the preflight page: rings a staff phone
    (the allowlist decides) and answers when the call has ended."""
    ctx = context(request)
    name = request.path_params["name"]
    if not form.get("to"):
        raise InputError("type the staff phone to ring (dialer staff-phone add)", field="to")
    result = await place_test_call(
        ctx.settings,
        ctx.store,
        name,
        form.get("to"),
        operator=session.user.name,
        as_contact=form.get("as_contact"),
        voicemail=form.flag("voicemail"),
    )
    at = form.get("at")
    version = "voicemail version" if result.voicemail else "message"
    return redirect(
        request,
        f"/campaigns/{name}/preflight" + (f"?at={quote(at)}" if at else ""),
        f"Test call as contact {result.contact} ({result.language}, {version}): {result.summary}.",
    )


async def _control_failed(
    request: Request, session: Session, form: Form, exc: DialerError
) -> Response:
    data = await _detail_data(request)
    errors = field_errors(exc)
    if "" in errors:
        errors["control"] = errors.pop("")
    return render(
        request, "campaign.html", session, errors=errors, values=dict(form.fields), **data
    )


@action(Permission.RUN_CAMPAIGNS, on_error=_control_failed)
async def control(request: Request, session: Session, form: Form) -> Response:
    """Start now or at a time, pause, resume, cancel: the lifecycle use-cases
    (dialer.campaign.control), the same the CLI and the JSON API call."""
    ctx = context(request)
    name, command, by = (
        request.path_params["name"],
        request.path_params["command"],
        session.user.name,
    )
    if command == "start":
        row = await start_campaign(ctx.store, ctx.settings, name, by=by, at=form.get("at") or None)
    elif command == "pause":
        row = await pause_campaign(ctx.store, name, by=by, reason=form.get("reason"))
    elif command == "resume":
        row = await resume_campaign(ctx.store, name, by=by)
    elif command == "cancel":
        if not form.get("reason"):
            raise InputError("say why the campaign is cancelled", field="cancel_reason")
        row = await cancel_campaign(ctx.store, name, by=by, reason=form.get("reason"))
    else:
        raise InputError(f"unknown command {command!r}")
    return redirect(request, f"/campaigns/{name}", f"Campaign {name!r} is now {row.state.value}.")


routes = [
    Route("/campaigns", list_page, methods=["GET"]),
    Route("/campaigns", create, methods=["POST"]),
    Route("/campaigns/new", new_page, methods=["GET"]),
    Route("/campaigns/{name}", detail, methods=["GET"]),
    Route("/campaigns/{name}/override", override, methods=["POST"]),
    Route("/campaigns/{name}/preflight", preflight, methods=["GET"]),
    Route("/campaigns/{name}/approve", approve, methods=["POST"]),
    Route("/campaigns/{name}/test-call", test_call, methods=["POST"]),
    Route("/campaigns/{name}/{command:str}", control, methods=["POST"]),
]
