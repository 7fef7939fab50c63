"""``dialer contacts``: load student-information-system exports into named lists."""

from __future__ import annotations

import datetime as dt
import json
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
from dialer.errors import InputError
from dialer.masking import mask_number
from dialer.model.contact import ColumnMapping
from dialer.model.listdiff import ListDiff
from dialer.numbers import normalise
from dialer.usecases.contacts import import_contacts

app = typer.Typer(help="Contact lists (SIS exports).", no_args_is_help=True)


@app.command("import")
def import_(
    file: Path,
    list_name: str = typer.Option(..., "--list", help="Name of the contact list"),
    replace: bool = typer.Option(False, help="Replace an existing list of that name"),
    strict: bool = typer.Option(False, help="Refuse the whole file if any row is invalid"),
    mapping: str = typer.Option(
        "", help="A saved column mapping for your SIS's flat export (see 'contacts mapping')"
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would change in the list; write nothing"
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Load contacts from a CSV with a phone column (phone, number, mobile...).

    Optional columns: id (or student_id), language; any other column (student_name,
    school, date...) is kept, encrypted, for personalised messages. A flat SIS
    export (student_id, guardian_name, relationship, home_phone, mobile_phone,
    work_phone...) gives one contact per guardian phone; rows marked restricted
    are never loaded. Invalid rows are reported with their row number and skipped
    (or, with --strict, nothing is loaded). A OneRoster 1.1 or 1.2 bundle (zip)
    gives each student's guardians' phones. The file streams: any size loads in
    bounded memory, and the list changes only when the whole file went through.
    Loading a list again (--replace, the nightly sync) prints what changed:
    added, changed and removed people and phones; --dry-run prints only that.

    Example: dialer contacts import sis-export.csv --list grade5
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg, write=True) as store:
            result = await import_contacts(
                cfg,
                store,
                file,
                list_name,
                operator(),
                replace=replace,
                strict=strict,
                mapping=mapping,
                dry_run=dry_run,
            )
        if json_out:
            print_json(
                {
                    "list": list_name,
                    "imported": result.imported,
                    "duplicates": result.duplicates,
                    "restricted": result.restricted,
                    "rejected_count": result.rejected_count,
                    "rejected": [{"row": e.row, "reason": e.reason} for e in result.rejected],
                    "dry_run": result.dry_run,
                    "changes": result.diff.to_json() if result.diff else None,
                }
            )
            return
        if result.dry_run:
            console.print(f"dry run: nothing written; list {list_name!r} would change so:")
        else:
            console.print(f"list {list_name!r}: {result.imported} contacts loaded from {file}")
        if result.diff is not None:
            _print_diff(result.diff)
        if result.duplicates:
            console.print(f"{result.duplicates} repeated row(s) (same id and number) loaded once")
        if result.restricted:
            console.print(f"{result.restricted} restricted link(s) not loaded (never called)")
        if result.rejected_count:
            count, kept = result.rejected_count, len(result.rejected)
            print_table(
                f"{count} row(s) rejected" + (f", first {kept} shown" if count > kept else ""),
                ["row", "reason"],
                [(e.row, e.reason) for e in result.rejected],
            )

    run_async(body)


def _print_diff(diff: ListDiff) -> None:
    console.print(
        f"added {diff.added}, changed {diff.changed}, removed {diff.removed}, "
        f"unchanged {diff.unchanged}"
    )
    for kind in ("added", "changed", "removed"):
        examples = diff.examples.get(kind) or []
        if examples:
            print_table(
                f"{kind} (first {len(examples)})",
                ["student", "guardian", "phone", "where"],
                [(c.student, c.guardian, c.kind, c.where) for c in examples],
            )


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


mapping_app = typer.Typer(
    help="Column mappings for your SIS's flat export (one row per student-guardian pair).",
    no_args_is_help=True,
)
app.add_typer(mapping_app, name="mapping")

_FIELDS = (
    "student_id",
    "student_name",
    "guardian_id",
    "guardian_name",
    "relationship",
    "language",
    "restricted",
    "custodial",
    "lives_with",
    "emergency_only",
)


@mapping_app.command("add")
def mapping_add(
    name: str,
    field: list[str] = typer.Option(
        [], "--field", help=f"FIELD=HEADER; fields: {', '.join(_FIELDS)}"
    ),
    phone: list[str] = typer.Option(
        [], "--phone", help="LABEL=HEADER (home, mobile, work...), primary first"
    ),
    from_file: Path | None = typer.Option(
        None, "--from", help="A JSON file with the mapping (see samples/sis-flat-mapping.json)"
    ),
    replace: bool = typer.Option(False, help="Replace a mapping of that name"),
) -> None:
    """Save how your SIS names its columns, for 'contacts import --mapping NAME'.

    Example: dialer contacts mapping add powerschool --field student_id="Student Number"
    --field guardian_name="Contact Name" --phone mobile="Cell" --phone home="Home Phone"
    """
    base = _mapping_file(from_file) if from_file else ColumnMapping()
    fields: dict[str, str] = dict(base.fields)
    for item in field:
        key, _, header = item.partition("=")
        if key not in _FIELDS or not header.strip():
            raise typer.BadParameter(
                f"--field {item!r}: expected FIELD=HEADER with FIELD one of {', '.join(_FIELDS)}"
            )
        fields[key] = header
    phones: list[tuple[str, str]] = list(base.phones) if not phone else []
    for item in phone:
        label, _, header = item.partition("=")
        if not label.strip() or not header.strip():
            raise typer.BadParameter(f"--phone {item!r}: expected LABEL=HEADER, e.g. mobile=Cell")
        phones.append((label.strip().lower(), header))
    mapped = ColumnMapping.from_json({"fields": fields, "phones": [list(p) for p in phones]})

    async def body() -> None:
        async with open_store(settings()) as store:
            await store.mappings.save(name, mapped, operator(), replace=replace)
        console.print(f"mapping {name!r} saved")

    run_async(body)


def _mapping_file(path: Path) -> ColumnMapping:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ColumnMapping.from_json(data)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    except (ValueError, AttributeError) as exc:
        raise InputError(f"{path}: not a column mapping ({exc})") from exc


@mapping_app.command("list")
def mapping_list(json_out: bool = typer.Option(False, "--json")) -> None:
    """Saved column mappings. Example: dialer contacts mapping list"""

    async def body() -> None:
        async with open_store(settings()) as store:
            rows = await store.mappings.names()
        emit_rows("Column mappings", ["mapping", "saved_at", "by"], rows, json_out)

    run_async(body)


@mapping_app.command("show")
def mapping_show(name: str) -> None:
    """One mapping's columns. Example: dialer contacts mapping show powerschool"""

    async def body() -> None:
        async with open_store(settings()) as store:
            mapped = await store.mappings.get(name)
        print_json(mapped.to_json())

    run_async(body)


@mapping_app.command("remove")
def mapping_remove(name: str) -> None:
    """Delete a saved mapping. Example: dialer contacts mapping remove powerschool"""

    async def body() -> None:
        async with open_store(settings()) as store:
            await store.mappings.remove(name, operator())
        console.print(f"mapping {name!r} removed")

    run_async(body)
