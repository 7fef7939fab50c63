"""Reports: outcome per contact with filters (numbers masked, C18), the SVG
outcome chart, the CSV download (masked; an admin's explicit reveal exports
full numbers, audited with the admin's name), and the C20 compliance report.
The CSV itself is ``dialer.campaign.report_csv``'s, the same as the CLI's."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialer.accounts.roles import Permission
from dialer.campaign.report import campaign_report
from dialer.campaign.report_csv import CsvExport, RowFilter, export_report_csv
from dialer.compliance_report import audit_report
from dialer.errors import InputError
from dialer.model.user import Session
from dialer.web.context import context
from dialer.web.ui.charts import bar_chart
from dialer.web.ui.core import action, page, render
from dialer.web.ui.forms import Form


def _keep(params: Mapping[str, str]) -> RowFilter:
    """The report page's filters (outcome, language, contact id) as a row test."""
    outcome = params.get("outcome", "")
    language = params.get("language", "")
    contact = params.get("contact", "").strip().lower()

    def keep(row: dict[str, Any]) -> bool:
        return (
            (not outcome or row["outcome"] == outcome)
            and (not language or row["language"] == language)
            and (not contact or contact in str(row["contact"]).lower())
        )

    return keep


def _filtered(report: dict[str, Any], request: Request) -> list[dict[str, Any]]:
    keep = _keep(request.query_params)
    return [row for row in report["per_contact"] if keep(row)]


@page()
async def report_page(request: Request, session: Session) -> Response:
    ctx = context(request)
    report = await campaign_report(ctx.store, request.path_params["name"])
    rows = _filtered(report, request)
    return render(
        request,
        "report.html",
        session,
        report=report,
        rows=rows,
        chart=bar_chart(report["outcomes"], f"Outcomes of {report['campaign']}"),
        outcomes=sorted(report["outcomes"]),
        languages=sorted({r["language"] for r in report["per_contact"]}),
        filters={k: request.query_params.get(k, "") for k in ("outcome", "language", "contact")},
        query=str(request.url.query),
    )


def _csv_response(name: str, export: CsvExport) -> Response:
    suffix = "-full-numbers" if export.revealed else ""
    return Response(
        export.text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-report{suffix}.csv"',
            "Cache-Control": "no-store",
        },
    )


@page()
async def report_csv(request: Request, session: Session) -> Response:
    """The masked CSV (C18), with the page's filters."""
    ctx = context(request)
    name = request.path_params["name"]
    export = await export_report_csv(ctx.store, name, keep=_keep(request.query_params))
    await ctx.store.users.record_action(
        session.user.name, "report-download", {"campaign": name, "rows": export.rows}
    )
    return _csv_response(name, export)


@action(Permission.REVEAL_NUMBERS, once=False)
async def report_csv_reveal(request: Request, session: Session, form: Form) -> Response:
    """Full numbers: an admin's explicit POST (CSRF-checked), audited as
    report-reveal with the admin's name before the file is produced (C18, C19)."""
    ctx = context(request)
    name = request.path_params["name"]
    filters = {key: form.get(key) for key in ("outcome", "language", "contact")}
    export = await export_report_csv(
        ctx.store, name, reveal_by=session.user.name, keep=_keep(filters)
    )
    return _csv_response(name, export)


def _date(text: str, label: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
    except ValueError:
        raise InputError(f"{label} {text!r} is not a date (YYYY-MM-DD)", field=label) from None


@page()
async def compliance(request: Request, session: Session) -> Response:
    ctx = context(request)
    since_text = request.query_params.get("since", "")
    until_text = request.query_params.get("until", "")
    data = await audit_report(
        ctx.store,
        _date(since_text, "since"),
        _date(until_text, "until"),
        fallback_timezone=ctx.settings.organisation.timezone,
    )
    statuses = Counter(r["status"] for r in data["requirements"])
    return render(
        request,
        "compliance.html",
        session,
        data=data,
        statuses=dict(statuses),
        since=since_text,
        until=until_text,
        blocked_chart=bar_chart(data["calls_blocked_by_reason"], "Calls blocked by reason"),
        channel_chart=bar_chart(data["revocations"]["by_channel"], "Revocations by channel"),
    )


routes = [
    Route("/campaigns/{name}/report", report_page, methods=["GET"]),
    Route("/campaigns/{name}/report.csv", report_csv, methods=["GET"]),
    Route("/campaigns/{name}/report/full.csv", report_csv_reveal, methods=["POST"]),
    Route("/compliance", compliance, methods=["GET"]),
]
