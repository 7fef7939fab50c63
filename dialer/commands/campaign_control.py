"""``dialer campaign start|pause|resume|cancel|status``: lifecycle control (contract 2).

Each command changes the campaign's state in the store through
``dialer.campaign.control`` (the same functions the HTTP API calls); a running
``dialer serve`` acts on it within a second. They work whether or not the
service runs: a campaign started while no service runs waits for one.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from dialer.campaign import control
from dialer.campaign.approval import require_approval
from dialer.campaign.preflight_check import run_preflight
from dialer.commands.common import (
    console,
    open_store,
    operator,
    print_json,
    print_table,
    run_async,
    settings,
)
from dialer.commands.safety import confirm_start
from dialer.store.lifecycle import LifecycleRow


def _said(row: LifecycleRow, what: str) -> None:
    console.print(f"campaign {row.name!r} {what} (state: {row.state.value})")


def start(
    name: str,
    at: str = typer.Option(
        "", "--at", help="Start time in the organisation's time zone, e.g. '2026-12-03 07:00'"
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Do not ask for confirmation (the checks still run)"
    ),
    operator_name: str = typer.Option(
        "", "--operator", help="Who starts it (default: your login name); audited"
    ),
) -> None:
    """Start a campaign now, or schedule it with --at; the service dials it.

    Prints the preflight summary (dialer campaign preflight) first and, on a
    terminal, asks for confirmation; --yes skips the question, never the checks.

    Example: dialer campaign start snow-day --at "2026-12-03 07:00"
    """

    async def body() -> None:
        cfg = settings()
        by = " ".join(operator_name.split()) or operator()
        async with open_store(cfg) as store:
            campaign = await store.campaigns.get(name)
            start_at = (
                control.parse_start_time(at, cfg.organisation.timezone, store.clock())
                if at
                else None
            )
            # refusals first: nobody confirms a start that cannot happen
            await require_approval(store, cfg, campaign)
            report = await run_preflight(cfg, store, name, at=start_at)
            if not confirm_start(report, yes=yes):
                console.print(f"campaign {name!r} not started")
                raise typer.Exit(1)
            row = await control.start_campaign(store, cfg, name, by=by, at=at or None)
            status = await control.campaign_status(store, cfg, name)
        if row.start_at:
            _said(row, f"scheduled for {status['start_at_local']}")
        else:
            _said(row, "started")
        if not status["engine"]["running"]:
            console.print("no 'dialer serve' is running: calls start when it runs")

    run_async(body)


def pause(
    name: str, reason: str = typer.Option("", help="Why (recorded in the audit log)")
) -> None:
    """Stop placing new calls; calls in progress finish. Example: dialer campaign pause snow-day"""

    async def body() -> None:
        async with open_store(settings()) as store:
            row = await control.pause_campaign(store, name, by=operator(), reason=reason)
        _said(row, "paused")

    run_async(body)


def resume(name: str) -> None:
    """Resume a paused campaign. Example: dialer campaign resume snow-day"""

    async def body() -> None:
        async with open_store(settings()) as store:
            row = await control.resume_campaign(store, name, by=operator())
        _said(row, "resumed")

    run_async(body)


def cancel(
    name: str,
    reason: str = typer.Option(..., help="Why it is cancelled (audited)"),
    by: str = typer.Option("", help="Who cancels it (default: your login name)"),
) -> None:
    """Cancel a campaign for good; calls in progress finish.

    Example: dialer campaign cancel snow-day --reason "school reopened"
    """

    async def body() -> None:
        async with open_store(settings()) as store:
            row = await control.cancel_campaign(store, name, by=by or operator(), reason=reason)
        _said(row, f"cancelled by {row.changed_by}")

    run_async(body)


def status(name: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """State, schedule and progress. Example: dialer campaign status snow-day --json"""

    async def body() -> dict[str, Any]:
        cfg = settings()
        async with open_store(cfg) as store:
            return await control.campaign_status(store, cfg, name)

    data = run_async(body)
    if json_out:
        print_json(data)
        return
    engine = data["engine"]
    lines = [
        Text.assemble(
            (data["campaign"], "bold"),
            f" ({data['purpose']}, list {data['list']}): {data['state']}",
        ),
        f"  last change: {data['changed_at'] or '-'} by {data['changed_by'] or '-'}"
        + (f" ({data['reason']})" if data["reason"] else ""),
        f"  done {data['done']} of {data['contacts']} contacts, "
        f"{data['calls_placed']} calls placed",
        "  engine: "
        + (f"running (pid {engine['pid']})" if engine["running"] else "no engine running"),
    ]
    if data["start_at_local"]:
        lines.insert(1, f"  starts at {data['start_at_local']}")
    for line in lines:
        console.print(line)
    if data["outcomes"]:
        print_table("Outcomes", ["outcome", "contacts"], sorted(data["outcomes"].items()))
