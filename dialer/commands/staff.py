"""``dialer staff-phone``, ``dialer users phone-pin`` and ``dialer recordings record``
(issue 14): staff phones the dialer may ring, and recording a message by phone."""

from __future__ import annotations

import typer

from dialer.commands.common import console, emit_rows, open_store, operator, print_json, run_async
from dialer.commands.common import settings as load
from dialer.masking import mask_number
from dialer.recorder.callme import record_by_phone
from dialer.usecases.staff import (
    add_staff_phone,
    clear_phone_pin,
    new_phone_pin,
    remove_staff_phone,
    staff_phones,
)

phone_app = typer.Typer(
    help="Staff phones: the only numbers test calls and recording calls may ring.",
    no_args_is_help=True,
)


@phone_app.command("add")
def add(
    number: str,
    label: str = typer.Option(..., help="Whose phone it is, e.g. 'Ms. Diaz mobile'"),
) -> None:
    """Allow test calls and "call me to record" to ring this number (audited).

    Example: dialer staff-phone add +12175550142 --label "Ms. Diaz mobile"
    """

    async def body() -> None:
        cfg = load()
        async with open_store(cfg) as store:
            e164 = await add_staff_phone(cfg, store, number, label, operator())
        console.print(f"staff phone {mask_number(e164)} added ({label.strip()})")

    run_async(body)


@phone_app.command("remove")
def remove(number: str) -> None:
    """Take a number off the staff phones (audited).

    Example: dialer staff-phone remove +12175550142
    """

    async def body() -> None:
        cfg = load()
        async with open_store(cfg) as store:
            await remove_staff_phone(cfg, store, number, operator())
        console.print("staff phone removed")

    run_async(body)


@phone_app.command("list")
def list_(json_out: bool = typer.Option(False, "--json")) -> None:
    """List staff phones (numbers masked). Example: dialer staff-phone list"""

    async def body() -> None:
        async with open_store(load()) as store:
            phones = await staff_phones(store)
        emit_rows(
            "Staff phones",
            ["number", "label", "added_by", "added_at"],
            [(mask_number(p.number), p.label, p.added_by, str(p.added_at)) for p in phones],
            json_out,
        )

    run_async(body)


def phone_pin(
    name: str,
    clear: bool = typer.Option(False, help="Remove the account's PIN instead"),
) -> None:
    """Give a console account a new PIN for the call-in recording line (shown once).

    Example: dialer users phone-pin ruiz
    """

    async def body() -> None:
        async with open_store(load()) as store:
            if clear:
                await clear_phone_pin(store, name, operator())
                console.print(f"phone PIN of {name!r} removed")
                return
            pin = await new_phone_pin(store, name, operator())
        console.print(
            f"phone PIN of {name!r}: {pin} (shown once; it replaces any earlier PIN). "
            "Call the recording line and type it, then #."
        )

    run_async(body)


def record(
    name: str,
    call_me: str = typer.Option(..., "--call-me", help="A staff phone to ring"),
    language: str = typer.Option("en", help="Language of the recording"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Record a message by phone: Asterisk rings your staff phone, you speak after the
    tone, hear it back, and press 1 to keep it (2 again, 3 cancel). A kept recording is
    converted and checked like an uploaded file and becomes the next version of NAME.

    Example: dialer recordings record closure --call-me +12175550142 --language es
    """

    async def body() -> None:
        cfg = load()
        async with open_store(cfg) as store:
            result = await record_by_phone(cfg, store, name, call_me, language, operator())
        saved = result.saved
        assert saved is not None  # record_by_phone raises otherwise
        if json_out:
            print_json(
                {
                    "name": saved.name,
                    "language": saved.language,
                    "version": saved.version,
                    "duration": saved.seconds,
                    "takes": result.takes,
                    "refused": list(result.refusals),
                }
            )
            return
        for reason in result.refusals:
            console.print(f"a take was refused: {reason}")
        console.print(
            f"recording {saved.name!r} ({saved.language}) version {saved.version}: "
            f"{saved.seconds:.1f} s, recorded by phone"
        )

    run_async(body)
