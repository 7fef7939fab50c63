"""``dialer sms``: opt-out by SMS reply (C5), for an SMS gateway's hook script."""

from __future__ import annotations

from pathlib import Path

import typer

from dialer.commands.common import console, open_store, print_json, run_async, settings
from dialer.errors import CsvError
from dialer.sms import handle_inbound_sms, import_sms_export, parse_received_at, read_sms_export

app = typer.Typer(
    help="Opt-out by SMS reply: STOP and the other C5 keywords.", no_args_is_help=True
)


@app.command()
def receive(
    from_number: str = typer.Option(..., "--from", help="Sender's number (E.164 preferred)"),
    text: str = typer.Option(..., "--text", help="The message text"),
    message_id: str = typer.Option(..., "--id", help="The gateway's message id"),
    received_at: str = typer.Option(
        "", "--received-at", help="When the gateway received it (ISO 8601; default now)"
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Handle one inbound SMS: a whole-message STOP, QUIT, END, REVOKE, OPT OUT,
    CANCEL or UNSUBSCRIBE revokes consent at once; a keyword inside a longer
    message is flagged for staff review. Safe to repeat (same --id: no second
    revocation).

    Example: dialer sms receive --from +12025550123 --text STOP --id SM8f2c
    """

    async def body() -> None:
        cfg = settings()
        when = parse_received_at(received_at, cfg.organisation.timezone, "--received-at")
        async with open_store(cfg) as store:
            result = await handle_inbound_sms(
                store,
                from_number,
                text,
                message_id,
                when,
                default_region=cfg.organisation.default_region,
            )
        if json_out:
            print_json(result.to_json())
        elif result.duplicate:
            console.print(f"{result.number}: message {message_id} was already handled")
        elif result.stop and result.journaled:
            console.print(
                f"revocation for {result.number} saved in the revocation journal (the "
                "database refused the write; it is stored once the database recovers)"
            )
        elif result.stop:
            console.print(f"revocation {result.revocation_id} recorded for {result.number}")
        elif result.needs_review:
            console.print(f"{result.number}: not a STOP keyword message; flagged for staff review")
        else:
            console.print(f"{result.number}: not an opt-out request; nothing to do")

    run_async(body)


@app.command("import")
def import_(file: Path, json_out: bool = typer.Option(False, "--json")) -> None:
    """Handle a gateway export (CSV columns from, text, id[, received_at]) in one go.

    Every readable row is handled even when others are bad (an opt-out is never
    dropped for someone else's typo); bad rows are listed with their row
    numbers and the exit code is then 2. Re-importing the same file is safe.

    Example: dialer sms import inbound-2026-11.csv
    """

    async def body() -> None:
        cfg = settings()
        messages, errors = read_sms_export(file)
        async with open_store(cfg) as store:
            summary = await import_sms_export(
                store,
                messages,
                errors,
                default_region=cfg.organisation.default_region,
                zone=cfg.organisation.timezone,
            )
        if json_out:
            print_json(summary.to_json())
        else:
            console.print(
                f"{summary.rows} messages: {summary.revoked} revoked, {summary.duplicates} "
                f"already handled, {summary.needs_review} for staff review, "
                f"{summary.ignored} not opt-outs, {len(summary.errors)} bad rows"
            )
            for flag in summary.flagged:
                console.print(f"  row {flag.row} (flagged): {flag.reason}")
        if summary.errors:
            lines = "\n".join(f"  row {e.row}: {e.reason}" for e in summary.errors[:20])
            raise CsvError(f"{file}: {len(summary.errors)} row(s) not handled:\n{lines}")

    run_async(body)
