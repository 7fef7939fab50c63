"""``dialer contacts``: load student-information-system exports into named lists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from dialer.commands.common import (
    console,
    emit_rows,
    open_store,
    operator,
    print_json,
    print_table,
    run_async,
    settings,
)
from dialer.masking import mask_number
from dialer.numbers import normalise
from dialer.usecases.contacts import import_contacts

app = typer.Typer(help="Contact lists (SIS exports).", no_args_is_help=True)


@app.command("import")
def import_(
    file: Path,
    list_name: str = typer.Option(..., "--list", help="Name of the contact list"),
    replace: bool = typer.Option(False, help="Replace an existing list of that name"),
    strict: bool = typer.Option(False, help="Refuse the whole file if any row is invalid"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Load contacts from a CSV with a phone column (phone, number, mobile...).

    Optional columns: id (or student_id), language; any other column (student_name,
    school, date...) is kept, encrypted, for personalised messages. Invalid rows are
    reported with their row number and skipped (or, with --strict, nothing is loaded).

    Example: dialer contacts import sis-export.csv --list grade5
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg, write=True) as store:
            result = await import_contacts(
                cfg, store, file, list_name, operator(), replace=replace, strict=strict
            )
        if json_out:
            print_json(
                {
                    "list": list_name,
                    "imported": result.imported,
                    "rejected": [{"row": e.row, "reason": e.reason} for e in result.rejected],
                }
            )
            return
        console.print(f"list {list_name!r}: {result.imported} contacts loaded from {file}")
        if result.rejected:
            print_table(
                f"{len(result.rejected)} row(s) rejected",
                ["row", "reason"],
                [(e.row, e.reason) for e in result.rejected],
            )

    run_async(body)


@app.command("lists")
def lists(json_out: bool = typer.Option(False, "--json")) -> None:
    """Show contact lists and their sizes. Example: dialer contacts lists"""

    async def body() -> None:
        async with open_store(settings()) as store:
            rows = await store.contacts.lists()
        emit_rows("Contact lists", ["list", "contacts"], rows, json_out)

    run_async(body)


REVIEW_COLUMNS = ["reason", "list", "contact", "number", "received_at", "attestation", "call"]


@app.command("review")
def review(
    clear: str = typer.Option("", help="A number staff checked: lift its wrong-party block"),
    days: int = typer.Option(
        90, min=1, max=3660, help="Hotline opt-outs received in the last DAYS days"
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """What staff should check with a family:

    - contacts flagged as a wrong party (keypad 8, or unallocated twice, C16):
      check the number, fix the list, then lift the block with --clear;
    - hotline opt-outs whose caller ID the phone company did not fully vouch
      for (no STIR/SHAKEN "A" attestation): the opt-out is honoured, but a
      spoofed caller ID could have made it. Call the family; if they want the
      calls, record their consent again (it lifts the opt-out).

    Example: dialer contacts review --clear +12025550123
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg) as store:
            if clear:
                number = normalise(clear, cfg.organisation.default_region)
                await store.consent.clear_wrong_party(number, operator())
                console.print(f"{mask_number(number)} may be called again")
                return
            flagged = await store.contacts.needing_review()
            since = store.clock() - dt.timedelta(days=days)
            hotline = await store.consent.hotline_to_review(since)
        rows: list[tuple[str, ...]] = [
            ("wrong-party", name, c.external_id, mask_number(c.number), "", "", "")
            for name, c in flagged
        ]
        rows += [
            (
                "hotline-unattested",
                h.list_name,
                h.contact,
                mask_number(h.number) if h.number else "(not in a contact list)",
                h.received_at.isoformat(timespec="seconds"),
                h.attestation or "not recorded",
                h.source_ref,
            )
            for h in hotline
        ]
        # "call" is Asterisk's uniqueid (epoch.sequence), never a phone number:
        # shown whole so staff can find the call in Asterisk's logs
        if json_out:
            emit_rows("", REVIEW_COLUMNS, rows, True, keep={"call"})
            return
        emit_rows(
            "Contacts to review (wrong party)",
            ["list", "contact", "number"],
            [r[1:4] for r in rows if r[0] == "wrong-party"],
            False,
        )
        emit_rows(
            f"Hotline opt-outs without a verified caller ID (last {days} days)",
            ["received", "list", "contact", "number", "attestation", "call"],
            [(r[4], r[1], r[2], r[3], r[5], r[6]) for r in rows if r[0] != "wrong-party"],
            False,
            keep={"call"},
        )

    run_async(body)
