"""Staff phones and phone PINs (issue 14): who the dialer may ring for staff, and who
may record by calling in.

* **Staff phones** are the allowlist for test calls and "call me to record":
  the features can never ring a stranger. Numbers are sealed and looked up by
  their keyed hash, like every number (C18); adding and removing are audited.
* A **phone PIN** ties the call-in recording line to a web console account
  (``users``). The PIN is generated, shown once, and stored only as a keyed
  hash (the store's blind-index key), unique across accounts, so the line can
  find the account from the digits alone; setting and clearing are audited.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from dialer.consent.crypto import Sealer
from dialer.errors import InputError, NotFoundError
from dialer.model.staff import StaffPhone
from dialer.store import audit
from dialer.store.db import Clock, Database, parse_ts, ts
from dialer.store.sealed import STAFF_PHONE_NUMBER as _SEALED

#: what the keyed PIN hash is computed over (kept apart from phone numbers' index)
_PIN_DOMAIN = "phone-pin:"


class StaffStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    # -- staff phones ---------------------------------------------------------------

    async def add_phone(self, number: str, label: str, operator: str) -> None:
        if not label.strip():
            raise InputError("a staff phone needs a --label (whose phone it is)", field="label")
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT 1 FROM staff_phones WHERE number_hash = ?", (number_hash,)
            ) as cur:
                if await cur.fetchone():
                    raise InputError("that number is already a staff phone", field="number")
            await conn.execute(
                "INSERT INTO staff_phones (number_hash, number_sealed, label, added_at, added_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    number_hash,
                    self.sealer.seal_field(number, _SEALED.table, _SEALED.column, number_hash),
                    label.strip(),
                    ts(now),
                    operator,
                ),
            )
            await audit.append(
                conn,
                self.sealer,
                "staff-phone-added",
                {"number_hash": number_hash, "label": label.strip(), "by": operator},
                now,
            )

    async def remove_phone(self, number: str, operator: str) -> None:
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM staff_phones WHERE number_hash = ?", (number_hash,)
            )
            if cursor.rowcount == 0:
                raise NotFoundError("that number is not a staff phone")
            await audit.append(
                conn,
                self.sealer,
                "staff-phone-removed",
                {"number_hash": number_hash, "by": operator},
                now,
            )

    async def phone(self, number: str) -> StaffPhone | None:
        row = await self.db.fetchone(
            "SELECT number_hash, number_sealed, label, added_at, added_by FROM staff_phones "
            "WHERE number_hash = ?",
            (self.sealer.index(number),),
        )
        return self._phone(row) if row is not None else None

    async def phones(self) -> list[StaffPhone]:
        rows = await self.db.fetchall(
            "SELECT number_hash, number_sealed, label, added_at, added_by FROM staff_phones "
            "ORDER BY label"
        )
        return [self._phone(r) for r in rows]

    def _phone(self, row: Any) -> StaffPhone:
        number = self.sealer.open_field(row[1], _SEALED.table, _SEALED.column, str(row[0]))
        return StaffPhone(number, str(row[2]), parse_ts(row[3]), str(row[4]))

    # -- phone PINs -----------------------------------------------------------------

    def _pin_index(self, pin: str) -> str:
        return self.sealer.index(_PIN_DOMAIN + pin)

    async def set_pin(self, user_name: str, pin: str, operator: str) -> bool:
        """Store ``pin`` for the account; False when another account has it (draw again)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT id FROM users WHERE name = ? AND disabled_at IS NULL", (user_name,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise NotFoundError(f"no active web console account named {user_name!r}")
            try:
                await conn.execute(
                    "INSERT INTO phone_pins (user_id, pin_index, set_at, set_by) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                    "pin_index = excluded.pin_index, set_at = excluded.set_at, "
                    "set_by = excluded.set_by",
                    (int(row[0]), self._pin_index(pin), ts(now), operator),
                )
            except sqlite3.IntegrityError:
                return False  # unique pin_index: nothing written, the transaction rolls back
            await audit.append(
                conn, self.sealer, "phone-pin-set", {"user": user_name, "by": operator}, now
            )
        return True

    async def clear_pin(self, user_name: str, operator: str) -> None:
        now = self.clock()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM phone_pins WHERE user_id = (SELECT id FROM users WHERE name = ?)",
                (user_name,),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"account {user_name!r} has no phone PIN")
            await audit.append(
                conn, self.sealer, "phone-pin-cleared", {"user": user_name, "by": operator}, now
            )

    async def user_for_pin(self, pin: str) -> str | None:
        """The active account whose PIN this is, or None."""
        row = await self.db.fetchone(
            "SELECT u.name FROM phone_pins p JOIN users u ON u.id = p.user_id "
            "WHERE p.pin_index = ? AND u.disabled_at IS NULL",
            (self._pin_index(pin),),
        )
        return str(row[0]) if row else None

    async def record_pin_failure(self, detail: str) -> None:
        """A wrong PIN on the recording line (audited: someone may be guessing)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            await audit.append(conn, self.sealer, "phone-pin-refused", {"detail": detail}, now)

    async def audit(self, kind: str, payload: dict[str, object]) -> None:
        """An audit entry for a staff call (test call, recording call): C19, never an attempt."""
        now = self.clock()
        async with self.db.transaction() as conn:
            await audit.append(conn, self.sealer, kind, payload, now)
