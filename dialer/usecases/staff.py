"""Staff phones and phone PINs (issue 14): the CLI and the web console call these."""

from __future__ import annotations

import secrets

from dialer.errors import InputError, StoreError
from dialer.model.staff import StaffPhone
from dialer.numbers import normalise
from dialer.settings import Settings
from dialer.store.store import Store

#: digits of a generated phone PIN (10^6 codes; three wrong tries end a call)
PIN_LENGTH = 6


async def add_staff_phone(
    settings: Settings, store: Store, number: str, label: str, operator: str
) -> str:
    """Allow test calls and "call me to record" to ring this number; returns it (E.164)."""
    e164 = normalise(number, settings.organisation.default_region)
    await store.staff.add_phone(e164, label, operator)
    return e164


async def remove_staff_phone(settings: Settings, store: Store, number: str, operator: str) -> None:
    await store.staff.remove_phone(
        normalise(number, settings.organisation.default_region), operator
    )


async def staff_phones(store: Store) -> list[StaffPhone]:
    return await store.staff.phones()


async def new_phone_pin(store: Store, user: str, operator: str) -> str:
    """A fresh random PIN for ``user``'s calls to the recording line; shown once, stored hashed."""
    if not user.strip():
        raise InputError("name the console account the PIN belongs to")
    for _ in range(50):
        pin = f"{secrets.randbelow(10**PIN_LENGTH):0{PIN_LENGTH}d}"
        if await store.staff.set_pin(user, pin, operator):
            return pin
    raise StoreError("could not draw a phone PIN that no other account has")


async def clear_phone_pin(store: Store, user: str, operator: str) -> None:
    await store.staff.clear_pin(user, operator)
