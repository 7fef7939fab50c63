"""``dialer campaign``: create, override, run (live view), status, report."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from dialer.campaign import control
from dialer.campaign.approval import require_approval
from dialer.campaign.engine import Engine
from dialer.campaign.report import ReportTotals, report_json_chunks, report_rows
from dialer.campaign.report_csv import write_report_csv
from dialer.campaign.runner import RunSummary
from dialer.campaign.shutdown import SignalDrain
from dialer.commands.common import (
    console,
    emit_rows,
    err_console,
    fail,
    open_private,
    open_store,
    operator,
    print_table,
    run_async,
    settings,
)
from dialer.commands.live_view import LiveProgressView
from dialer.consent.model import EmergencyCategory, Purpose
from dialer.service.progress import CampaignProgress
from dialer.settings import Settings
from dialer.store.engine_lock import EngineLock
from dialer.store.store import Store
from dialer.usecases.campaigns import (
    CampaignRequest,
    check_retry_interrupted,
    create_campaign,
    set_override,
)

app = typer.Typer(help="Create and run campaigns.", no_args_is_help=True)


@app.command()
def create(
    name: str,
    purpose: Purpose = typer.Option(..., help="emergency, school, informational, telemarketing"),
    list_name: str = typer.Option(..., "--list", help="Contact list to call"),
    message: str = typer.Option(
        ...,
        help="Recording name of the body, or template:NAME (attendance-absence, "
        "school-closure, appointment-reminder) filled from the contact's fields",
    ),
    caller_id: str = typer.Option(..., "--caller-id", help="An allowed caller ID (C14)"),
    identification: str = typer.Option("", help="Recording that names the organisation (C8)"),
    category: EmergencyCategory | None = typer.Option(None, help="Emergency category (C1)"),
    authorized_by: str = typer.Option("", "--authorized-by", help="Who authorized it (C1)"),
    window: str = typer.Option("", help="Narrower calling window, e.g. 09:00-18:00 (C12)"),
    max_attempts: int = typer.Option(0, help="Calls per contact (default from settings)"),
    retry_delay: int = typer.Option(-1, help="Seconds between attempts"),
    residential_exemption: bool = typer.Option(
        False, help="Informational calls without consent, capped 3 per 30 days (C13)"
    ),
    retry_interrupted: int = typer.Option(
        1,
        "--retry-interrupted",
        help="0, 1 or 2: times a call cut short after the answer (engine crash, shutdown, "
        "Asterisk lost) is dialled again",
    ),
    operator_name: str = typer.Option(
        "", "--operator", help="Who creates it (default: your login name); audited"
    ),
    phones: str = typer.Option(
        "primary",
        help="A guardian's phones to call: primary (default), all, or until-reached "
        "(the next phone only when the previous was busy, unanswered or failed)",
    ),
) -> None:
    """Create a campaign; refused when it would break a rule (C1, C8, C12, C14).

    Each number is called once per campaign: siblings sharing a guardian's phone
    get one call that names every child (templates) and the report shows the
    household.

    Example: dialer campaign create snow-day --purpose emergency --category closure
    --authorized-by "Supt. Ruiz" --list all-families --message closure --caller-id +12025550100
    """

    async def body() -> None:
        check_retry_interrupted(retry_interrupted)  # before anything is opened
        cfg = settings()
        request = CampaignRequest(
            name=name,
            purpose=purpose,
            list_name=list_name,
            message=message,
            caller_id=caller_id,
            identification=identification,
            category=category,
            authorized_by=authorized_by,
            window=window,
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            residential_exemption=residential_exemption,
            retry_interrupted=retry_interrupted,
            phones=phones,
        )
        async with open_store(cfg, write=True) as store:
            await create_campaign(
                cfg, store, request, " ".join(operator_name.split()) or operator()
            )
        console.print(f"campaign {name!r} created ({purpose.value}, list {list_name!r})")

    run_async(body)


@app.command()
def override(
    name: str,
    operator_name: str = typer.Option(..., "--operator", help="Who takes responsibility"),
    reason: str = typer.Option(..., help="Why revoked numbers must be called"),
) -> None:
    """Emergency only: also call numbers that revoked consent (C6, audited).

    Example: dialer campaign override lockdown --operator "Supt. Ruiz" --reason "active threat"
    """

    async def body() -> None:
        async with open_store(settings(), write=True) as store:
            await set_override(store, name, operator_name, reason)
        console.print(f"override recorded for {name!r} by {operator_name}")

    run_async(body)


@app.command()
def run(
    name: str,
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON at the end"),
    wait_for_window: bool = typer.Option(
        False, help="Wait for callees whose local calling window is closed (C12)"
    ),
    retry_interrupted: int | None = typer.Option(
        None,
        "--retry-interrupted",
        help="0, 1 or 2: times a call cut short after the answer (engine crash, shutdown, "
        "Asterisk lost) is dialled again; kept with the campaign (default 1)",
    ),
) -> None:
    """Run a campaign in the foreground with a live view; ends when every contact is done.

    Contacts outside their local calling window are reported as blocked (outside-window)
    and gated again by the next run; with --wait-for-window the run waits for them.

    Example: dialer campaign run snow-day
    """

    async def body() -> None:
        if retry_interrupted is not None:
            check_retry_interrupted(retry_interrupted)  # before anything is touched
        cfg = settings(json_logs_off_terminal=True)
        # contract 3: one engine per store; refuses while 'dialer serve' runs
        with EngineLock(cfg.store.path, "campaign run"):
            await _run_foreground(cfg, name, json_out, wait_for_window, retry_interrupted)

    run_async(body)


async def _run_foreground(
    cfg: Settings,
    name: str,
    json_out: bool,
    wait_for_window: bool,
    retry_interrupted: int | None = None,
) -> None:
    progress = CampaignProgress(name)

    def on_event(event: dict[str, Any]) -> None:
        progress(event)

    async with open_store(cfg, dial=True) as store:
        # issue 14: refused before Asterisk is even contacted (the runner checks again)
        await require_approval(store, cfg, await store.campaigns.get(name))
        if retry_interrupted is not None:
            await store.campaigns.set_retry_interrupted(name, retry_interrupted, operator())
        async with Engine(cfg, store) as engine:
            if engine.recovered.calls:
                # what a crash left behind, closed before anything was dialled
                err_console.print(
                    engine.recovered.message(), soft_wrap=True, markup=False, highlight=False
                )
            await control.begin_foreground_run(store, name, by=operator())
            stop = asyncio.Event()
            hang_up = asyncio.Event()
            # contract 2: 'dialer campaign pause|cancel' from elsewhere stops new calls here too
            tasks = [asyncio.create_task(control.wait_until_not_running(store, name, stop))]
            if not console.is_terminal:
                # under systemd/cron nobody sees the live view: one progress line every few s
                tasks.append(asyncio.create_task(_log_progress(progress, cfg)))
            drain = SignalDrain(
                stop, hang_up, cfg.engine.drain_seconds, lambda: len(engine.registry)
            )

            async def run() -> RunSummary:
                return await engine.run_campaign(
                    name,
                    on_event,
                    wait_for_window=wait_for_window,
                    stop_dialing=stop,
                    hang_up=hang_up,
                    # Asterisk gone: wait this long for it to come back, then exit 7
                    pbx_wait=cfg.engine.pbx_wait_seconds,
                )

            try:
                with drain:
                    if json_out or not console.is_terminal:
                        summary = await run()
                    else:
                        # the same view as 'dialer serve' on a terminal (one block per campaign)
                        async with LiveProgressView(console, lambda: {name: progress.snapshot()}):
                            summary = await run()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            if not summary.stopped:
                await control.complete_campaign(store, name, by="engine")
            progress.log_line()
            if drain.signal is not None:
                err_console.print(drain.summary(), markup=False, highlight=False, soft_wrap=True)
            elif summary.stopped:
                state = await store.lifecycle.get(name)
                err_console.print(
                    f"campaign {name!r} {state.state.value} by {state.changed_by}"
                    + (f" ({state.reason})" if state.reason else "")
                    + "; calls in progress finished, no new calls placed"
                )
        # printed as it is read, after the engine let go of Asterisk (issue 11)
        await _show_report(store, name, "json" if json_out else "table")


async def _log_progress(progress: CampaignProgress, cfg: Settings) -> None:
    while True:
        await asyncio.sleep(cfg.logging.progress_seconds)
        progress.log_line()


#: above this many contacts the per-contact table is printed line by line, not
#: laid out as one table (which would hold every row in memory first)
TABLE_LIMIT = 500
_LINE = "{:<16} {:<14} {:<14} {:>8}  {:<22} {}"


async def _show_report(store: Store, name: str, form: str) -> None:
    """Print the report as it is read (issue 11): json or a table."""
    out = sys.stdout
    if form == "json":
        async for chunk in report_json_chunks(store, name):
            out.write(chunk)
            out.flush()
        return
    campaign = await store.campaigns.get(name)
    totals = ReportTotals()
    rows = report_rows(store, campaign, totals)
    version = await store.contacts.version(campaign.version_id)
    columns = ("contact", "number", "outcome", "attempts", "gate", "detail")
    if version.contacts <= TABLE_LIMIT:
        # issue 12: the household a call covered, next to each of its contacts
        lines = [[*(row[c] for c in columns), _household(row)] async for row in rows]
        console.print(
            Text.assemble(
                (campaign.name, "bold"),
                f" ({campaign.purpose.value}): {totals.contacts} contacts, "
                f"{totals.calls_placed} calls placed",
            )
        )
        print_table("Outcome per contact", [*columns, "household"], lines)
    else:
        console.print(
            Text.assemble(
                (campaign.name, "bold"), f" ({campaign.purpose.value}): outcome per contact"
            )
        )
        # line by line: a million-contact report starts at once, in bounded memory
        out.write(_LINE.format(*columns) + "\n")
        async for row in rows:
            out.write(_LINE.format(*(_short(row[c]) for c in columns)) + "\n")
        out.flush()
        console.print(f"{totals.contacts} contacts, {totals.calls_placed} calls placed")
    print_table("Totals", ["outcome", "contacts"], sorted(totals.outcomes.items()))
    if totals.blocked_by_reason:
        print_table(
            "Blocked by reason", ["reason", "attempts"], sorted(totals.blocked_by_reason.items())
        )


def _household(row: dict[str, Any]) -> str:
    """``call for s-1, s-2, s-3`` on the lead, ``covered by s-1's call`` on the others."""
    if row["covered_by"]:
        return f"covered by {row['covered_by']}'s call"
    if row["household"]:
        return "call for " + ", ".join(row["household"])
    return ""


def _short(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command()
def report(
    name: str,
    json_out: bool = typer.Option(False, "--json", help="JSON for scripts (streamed)"),
    csv_out: bool = typer.Option(False, "--csv", help="CSV for spreadsheets (streamed)"),
    reveal: bool = typer.Option(
        False, "--reveal", help="With --csv: plaintext numbers (audited with your name)"
    ),
    out: Path | None = typer.Option(
        None, "--out", help="With --csv: write to this file, readable by you only (0600)"
    ),
) -> None:
    """Full report: outcome per contact (numbers masked), totals, blocked reasons.

    Printed as it is read, so a million-contact report starts at once.
    Example: dialer campaign report snow-day --csv --out snow-day.csv
    """
    if reveal and not csv_out:
        fail("--reveal only applies to --csv", 2)
    if out is not None and not csv_out:
        fail("--out only applies to --csv", 2)
    if json_out and csv_out:
        fail("choose one of --json and --csv", 2)

    async def body() -> None:
        async with open_store(settings()) as store:
            if csv_out:
                reveal_by = operator() if reveal else None
                if out is None:
                    await write_report_csv(store, name, sys.stdout, reveal_by=reveal_by)
                    return
                # C18: an export is 0600 from its first byte
                with open_private(out) as target:
                    await write_report_csv(store, name, target, reveal_by=reveal_by)
                console.print(f"wrote {out}")
                return
            await _show_report(store, name, "json" if json_out else "table")

    run_async(body)


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json")) -> None:
    """List campaigns. Example: dialer campaign list"""

    async def body() -> None:
        async with open_store(settings()) as store:
            rows = await store.campaigns.names()
        emit_rows("Campaigns", ["campaign", "purpose"], rows, json_out)

    run_async(body)
