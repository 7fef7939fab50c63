"""``dialer contacts``: load student-information-system exports into named lists."""

from __future__ import annotations

from pathlib import Path

import typer

from dialer.commands.common import (
    console,
    open_store,
    operator,
    print_json,
    print_table,
    run_async,
    settings,
)
from dialer.csvfiles import read_contacts
from dialer.errors import CsvError

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
        parsed = read_contacts(file, cfg.organisation.default_region, cfg.audio.default_language)
        if strict and parsed.errors:
            lines = "\n".join(f"  row {e.row}: {e.reason}" for e in parsed.errors[:20])
            raise CsvError(f"{file}: {len(parsed.errors)} invalid row(s), nothing loaded:\n{lines}")
        if not parsed.records:
            raise CsvError(f"{file}: no valid rows; nothing loaded")
        async with open_store(cfg) as store:
            await store.contacts.import_list(
                list_name, parsed.records, replace=replace, operator=operator()
            )
        if json_out:
            print_json(
                {
                    "list": list_name,
                    "imported": len(parsed.records),
                    "rejected": [{"row": e.row, "reason": e.reason} for e in parsed.errors],
                }
            )
            return
        console.print(f"list {list_name!r}: {len(parsed.records)} contacts loaded from {file}")
        if parsed.errors:
            print_table(
                f"{len(parsed.errors)} row(s) rejected",
                ["row", "reason"],
                [(e.row, e.reason) for e in parsed.errors],
            )

    run_async(body)


@app.command("lists")
def lists(json_out: bool = typer.Option(False, "--json")) -> None:
    """Show contact lists and their sizes. Example: dialer contacts lists"""

    async def body() -> None:
        async with open_store(settings()) as store:
            rows = await store.contacts.lists()
        if json_out:
            print_json([{"list": n, "contacts": c} for n, c in rows])
        else:
            print_table("Contact lists", ["list", "contacts"], rows)

    run_async(body)
