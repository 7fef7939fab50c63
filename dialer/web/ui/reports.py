"""Reports: outcome per contact with filters (numbers masked, C18), the SVG
outcome chart, the CSV download, and the C20 compliance report."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialer.campaign.report import campaign_report
from dialer.campaign.report_csv import report_rows_csv
from dialer.compliance_report import audit_report
from dialer.errors import InputError
from dialer.model.user import Session
from dialer.web.context import context
from dialer.web.ui.charts import bar_chart
from dialer.web.ui.core import page, render


def _filtered(report: dict[str, Any], request: Request) -> list[dict[str, Any]]:
    outcome = request.query_params.get("outcome", "")
    language = request.query_params.get("language", "")
    contact = request.query_params.get("contact", "").strip().lower()
    rows = report["per_contact"]
    return [
        row
        for row in rows
        if (not outcome or row["outcome"] == outcome)
        and (not language or row["language"] == language)
        and (not contact or contact in str(row["contact"]).lower())
    ]


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


@page()
async def report_csv(request: Request, session: Session) -> Response:
    ctx = context(request)
    name = request.path_params["name"]
    report = await campaign_report(ctx.store, name)
    rows = _filtered(report, request)
    text = report_rows_csv(rows)  # masked numbers, formula cells escaped (as the CLI's)
    await ctx.store.users.record_action(
        session.user.name, "report-download", {"campaign": name, "rows": len(rows)}
    )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-report.csv"',
            "Cache-Control": "no-store",
        },
    )


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
    Route("/compliance", compliance, methods=["GET"]),
]
