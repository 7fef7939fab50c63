"""``dialer consent``, ``dialer dnc`` and ``dialer callerid`` (C3-C7, C14, C15, C17)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import typer
from rich.text import Text

from dialer.audio.tts import clear_cache
from dialer.commands.common import (
    console,
    emit_rows,
    fail,
    open_store,
    operator,
    print_json,
    print_table,
    run_async,
    settings,
)
from dialer.consent.model import ConsentSource, Purpose, RevocationChannel
from dialer.csvfiles import CONSENT_COLUMNS, read_numbers
from dialer.errors import CsvError
from dialer.masking import mask_number
from dialer.model.consents import ConsentInput
from dialer.numbers import normalise
from dialer.timeparse import parse_instant
from dialer.usecases.consent import import_consents, lookup
from dialer.usecases.consent import revoke as revoke_number

app = typer.Typer(help="Consent records, revocations, erasure and retention.", no_args_is_help=True)
dnc_app = typer.Typer(
    help="Do-not-call lists (national and the organisation's own).", no_args_is_help=True
)
callerid_app = typer.Typer(help="Caller IDs the organisation owns (C14).", no_args_is_help=True)


def _number(raw: str) -> str:
    return normalise(raw, settings().organisation.default_region)


@app.command()
def grant(
    number: str,
    purpose: Purpose = typer.Option(..., help="school, informational or telemarketing"),
    source: ConsentSource = typer.Option(ConsentSource.STAFF, help="Where the consent came from"),
    method: str = typer.Option(..., help="How it was obtained, e.g. 'phone call with parent'"),
    evidence: str = typer.Option(..., help="Where the evidence is kept, e.g. 'SIS:form/4411'"),
    disclosure: str = typer.Option(..., help="Disclosure text shown, or its SHA-256"),
    obtained_at: str = typer.Option(
        "", help="ISO 8601 time; without a zone, the organisation's (default: now)"
    ),
    written: bool = typer.Option(False, help="Prior express written consent (telemarketing)"),
    signature: str = typer.Option("", help="Signature reference (written consent)"),
    contact: str = typer.Option("", help="Who gave it: name or id (stored encrypted)"),
    no_contact: bool = typer.Option(
        False, "--no-contact", help="The record names nobody (C3: shown as such in reports)"
    ),
) -> None:
    """Record a consent (append-only, C3).

    Example: dialer consent grant +12025550123 --purpose school --source enrollment
    --method "enrollment form" --evidence SIS:4411 --disclosure "We may call you..."
    """

    async def body() -> None:
        cfg = settings()
        # a time without a zone is the organisation's local time (dialer.timeparse)
        when = (
            parse_instant(obtained_at, "--obtained-at", zone=cfg.organisation.timezone)
            if obtained_at
            else dt.datetime.now(dt.UTC)
        )
        record = ConsentInput(
            number=normalise(number, cfg.organisation.default_region),
            scope=purpose,
            source=source,
            method=method,
            obtained_at=when,
            disclosure=disclosure,
            evidence_ref=evidence,
            contact_ref=contact,
            signature_ref=signature,
            written=written,
            no_contact=no_contact and not contact.strip(),
        )
        async with open_store(cfg, write=True) as store:
            consent_id = await store.consent.add_consent(record, operator())
        console.print(f"consent {consent_id} recorded for {mask_number(record.number)}")

    run_async(body)


@app.command()
def revoke(
    number: str,
    channel: RevocationChannel = typer.Option(RevocationChannel.STAFF, help="How it arrived"),
    ref: str = typer.Option("", help="The call, message or ticket it came from"),
) -> None:
    """Revoke consent for every non-emergency purpose, effective at once (C5-C7).

    Example: dialer consent revoke +12025550123 --channel email --ref ticket-5531
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg) as store:
            revoked = await revoke_number(cfg, store, number, channel, operator(), ref=ref)
        console.print(f"{revoked.result.reference} recorded for {mask_number(revoked.number)}")

    run_async(body)


@app.command()
def show(number: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """Show a number's full history: consents, revocations, lists, calls.

    Example: dialer consent show +12025550123 --json
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg) as store:
            history = await lookup(cfg, store, number)
        if json_out:
            print_json(history)
            return
        console.print(Text.assemble((history["number"], "bold"), f"  status: {history['status']}"))
        for title, key in (
            ("Consents", "consents"),
            ("Revocations", "revocations"),
            ("Calls", "attempts"),
        ):
            rows = history[key]
            if rows:
                print_table(title, list(rows[0].keys()), [list(r.values()) for r in rows])
        for flag in ("company_dnc", "national_dnc", "erased", "wrong_party"):
            if history[flag]:
                console.print(f"on list: {flag}")

    run_async(body)


@app.command()
def erase(number: str, yes: bool = typer.Option(False, "--yes", help="Confirm")) -> None:
    """Erase a person's data, keeping only a keyed-hash suppression (C17).

    Example: dialer consent erase +12025550123 --yes
    """
    if not yes:
        fail("erasure cannot be undone; repeat with --yes", 2)

    async def body() -> None:
        cfg = settings()
        e164 = normalise(number, cfg.organisation.default_region)
        async with open_store(cfg, write=True) as store:
            counts = await store.consent.erase(e164, operator())
        # spoken renders of names live in the TTS cache: they go too (C17)
        renders = await asyncio.to_thread(clear_cache, cfg.audio.sounds_dir / "tts")
        console.print(
            f"erased {mask_number(e164)}: {counts}, {renders} cached speech renders; "
            "the number stays blocked"
        )

    run_async(body)


@app.command()
def purge(json_out: bool = typer.Option(False, "--json")) -> None:
    """Remove consent evidence and DNC entries past 5-year retention, nothing else (C4).

    Example: dialer consent purge
    """

    async def body() -> None:
        async with open_store(settings(), write=True) as store:
            counts = await store.consent.purge(operator())
        print_json(counts) if json_out else console.print(f"purged: {counts}")

    run_async(body)


@app.command("import")
def import_(
    file: Path,
    json_out: bool = typer.Option(False, "--json"),
    no_contact: bool = typer.Option(
        False, "--no-contact", help="Accept rows without a contact (C3: reported as such)"
    ),
) -> None:
    """Import a consent export; one transaction: any bad row and nothing is written.

    Columns: phone, scope, source, method, obtained_at, disclosure, evidence_ref,
    contact [, written, signature_ref]; rows without a contact need --no-contact.
    Example: dialer consent import enrollment.csv
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg, write=True) as store:
            count = await import_consents(cfg, store, file, operator(), no_contact=no_contact)
        if json_out:
            print_json({"imported": count, "file": str(file)})
        else:
            console.print(f"imported {count} consent records from {file}")

    run_async(body)


def consent_format_help() -> str:
    return "\n".join(f"  {k}: {v}" for k, v in CONSENT_COLUMNS.items())


# -- dnc --------------------------------------------------------------------------


@dnc_app.command("import")
def dnc_import(
    file: Path,
    as_of: str = typer.Option(..., "--as-of", help="Date of the national list copy (YYYY-MM-DD)"),
) -> None:
    """Replace the national do-not-call copy (C15).

    Example: dialer dnc import national-dnc.csv --as-of 2026-11-01
    """

    async def body() -> None:
        cfg = settings()
        try:
            date = dt.date.fromisoformat(as_of)
        except ValueError as exc:
            raise CsvError(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from exc
        parsed = read_numbers(file, cfg.organisation.default_region)
        async with open_store(cfg, write=True) as store:
            count = await store.consent.import_national_dnc(parsed.records, date, file.name)
        console.print(
            f"national DNC list as of {date}: {count} numbers"
            + (f" ({len(parsed.errors)} unreadable rows skipped)" if parsed.errors else "")
        )

    run_async(body)


@dnc_app.command("add")
def dnc_add(
    number: str, source: str = typer.Option("staff", help="Where the request came from")
) -> None:
    """Put a number on the organisation's own do-not-call list (C4).

    Example: dialer dnc add +12025550123 --source "letter 2026-11-02"
    """

    async def body() -> None:
        cfg = settings()
        e164 = normalise(number, cfg.organisation.default_region)
        async with open_store(cfg, write=True) as store:
            await store.consent.add_company_dnc(e164, source)
        console.print(f"{mask_number(e164)} is on the organisation's do-not-call list")

    run_async(body)


# -- caller IDs ------------------------------------------------------------------------


@callerid_app.command("add")
def callerid_add(
    number: str, label: str = typer.Option(..., help="e.g. 'District office'")
) -> None:
    """Allow a caller ID the organisation owns and that accepts DNC requests (C14).

    Example: dialer callerid add +12025550100 --label "District office"
    """

    async def body() -> None:
        cfg = settings()
        e164 = normalise(number, cfg.organisation.default_region)
        async with open_store(cfg, write=True) as store:
            await store.consent.add_caller_id(e164, label, operator())
        console.print(f"caller ID {e164} allowed ({label})")

    run_async(body)


@callerid_app.command("list")
def callerid_list(json_out: bool = typer.Option(False, "--json")) -> None:
    """List allowed caller IDs. Example: dialer callerid list"""

    async def body() -> None:
        async with open_store(settings()) as store:
            rows = await store.consent.caller_ids()
        # the organisation's own numbers: shown in full (not personal data, C14)
        emit_rows("Caller IDs", ["number", "label", "added_at"], rows, json_out, keep={"number"})

    run_async(body)


@callerid_app.command("remove")
def callerid_remove(number: str) -> None:
    """Remove a caller ID from the allowlist. Example: dialer callerid remove +12025550100"""

    async def body() -> None:
        cfg = settings()
        e164 = normalise(number, cfg.organisation.default_region)
        async with open_store(cfg, write=True) as store:
            await store.consent.remove_caller_id(e164, operator())
        console.print(f"caller ID {e164} removed")

    run_async(body)
