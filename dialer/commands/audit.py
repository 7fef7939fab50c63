"""``dialer audit``: verify the chain (C19), report the evidence (C20)."""

from __future__ import annotations

import datetime as dt

import typer

from dialer.commands.common import console, open_store, print_json, run_async, settings
from dialer.compliance_report import audit_report, render_report
from dialer.errors import InputError

app = typer.Typer(help="Tamper-evident audit log and compliance report.", no_args_is_help=True)


@app.command()
def verify(json_out: bool = typer.Option(False, "--json")) -> None:
    """Check the audit chain and its sealed head, and every consent, revocation,
    suppression, DNC, override and caller-ID row against the log, both ways (C19).
    Names the first edited, inserted or deleted entry or row.

    Example: dialer audit verify
    """

    async def body() -> None:
        async with open_store(settings()) as store:
            report = await store.verify_audit()
        if json_out:
            print_json(
                {
                    "ok": True,
                    "entries": report.entries,
                    "head": report.head_mac,
                    "rows_checked": report.rows_checked,
                    "national_dnc_entries": report.national_entries,
                }
            )
        else:
            console.print(
                f"audit chain intact: {report.entries} entries, head {report.head_mac[:16]}; "
                f"{report.rows_checked} data rows and {report.national_entries} national DNC "
                "entries match the log"
            )

    run_async(body)


def _date(text: str, option: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{option} {text!r} is not a date (YYYY-MM-DD)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@app.command()
def report(
    since: str = typer.Option("", help="Start of the period (YYYY-MM-DD)"),
    until: str = typer.Option("", help="End of the period (YYYY-MM-DD)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Compliance report for a period: calls by purpose, blocks by reason,
    revocations by channel with time to effect, and every requirement's evidence.

    Example: dialer audit report --since 2026-09-01 --json
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg) as store:
            data = await audit_report(
                store,
                _date(since, "--since"),
                _date(until, "--until"),
                fallback_timezone=cfg.organisation.timezone,
            )
        if json_out:
            print_json(data)
        else:
            render_report(data, console)

    run_async(body)
