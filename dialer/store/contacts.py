"""Contact lists: numbers sealed, fields (names, dates) sealed, looked up by hash."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dialer.consent.crypto import Sealer
from dialer.errors import InputError, NotFoundError
from dialer.model.contact import Contact, NewContact
from dialer.store import audit
from dialer.store.db import Clock, Database, ts
from dialer.store.sealed import CONTACT_FIELDS, CONTACT_NUMBER


class ContactStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    async def import_list(
        self, name: str, contacts: Sequence[NewContact], *, replace: bool, operator: str
    ) -> int:
        """Create (or replace) a list in one transaction: all rows or none."""
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT id FROM contact_lists WHERE name = ?", (name,)) as cur:
                row = await cur.fetchone()
            if row is not None and not replace:
                raise InputError(
                    f"contact list {name!r} already exists; use --replace to load it again"
                )
            if row is not None:
                list_id = int(row[0])
                await conn.execute("DELETE FROM contacts WHERE list_id = ?", (list_id,))
            else:
                cursor = await conn.execute(
                    "INSERT INTO contact_lists (name, created_at) VALUES (?, ?)", (name, ts(now))
                )
                list_id = int(cursor.lastrowid or 0)
            # ids given here: each sealed value is bound to its row (contract 4)
            async with conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM contacts") as cur:
                found = await cur.fetchone()
            first_id = int(found[0]) if found else 1
            await conn.executemany(
                "INSERT INTO contacts (id, list_id, external_id, number_hash, number_sealed, "
                "language, fields_sealed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (list_id, external_id, number_hash) DO NOTHING",
                [
                    (
                        first_id + i,
                        list_id,
                        c.external_id,
                        self.sealer.index(c.number),
                        self.sealer.seal_field(
                            c.number, CONTACT_NUMBER.table, CONTACT_NUMBER.column, first_id + i
                        ),
                        c.language,
                        self.sealer.seal_field(
                            json.dumps(c.fields),
                            CONTACT_FIELDS.table,
                            CONTACT_FIELDS.column,
                            first_id + i,
                        )
                        if c.fields
                        else None,
                        ts(now),
                    )
                    for i, c in enumerate(contacts)
                ],
            )
            await audit.append(
                conn,
                self.sealer,
                "contacts-import",
                {"list": name, "contacts": len(contacts), "replace": replace, "by": operator},
                now,
            )
        return list_id

    async def list_id(self, name: str) -> int:
        row = await self.db.fetchone("SELECT id FROM contact_lists WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no contact list named {name!r} (load it with 'contacts import')")
        return int(row[0])

    async def contacts(self, list_id: int) -> list[Contact]:
        rows = await self.db.fetchall(
            "SELECT id, external_id, number_sealed, language, fields_sealed, needs_review "
            "FROM contacts WHERE list_id = ? ORDER BY id",
            (list_id,),
        )
        return [self._contact(r) for r in rows]

    async def contact(self, contact_id: int) -> Contact:
        row = await self.db.fetchone(
            "SELECT id, external_id, number_sealed, language, fields_sealed, needs_review "
            "FROM contacts WHERE id = ?",
            (contact_id,),
        )
        if row is None:
            raise NotFoundError(f"no contact with id {contact_id}")
        return self._contact(row)

    def _contact(self, row: Any) -> Contact:
        contact_id, fields_sealed = int(row[0]), row[4]
        fields = (
            json.loads(
                self.sealer.open_field(
                    fields_sealed, CONTACT_FIELDS.table, CONTACT_FIELDS.column, contact_id
                )
            )
            if isinstance(fields_sealed, bytes)
            else {}
        )
        return Contact(
            id=contact_id,
            external_id=str(row[1]),
            number=self.sealer.open_field(
                row[2], CONTACT_NUMBER.table, CONTACT_NUMBER.column, contact_id
            ),
            language=str(row[3]),
            fields=fields,
            needs_review=bool(row[5]),
        )

    async def needing_review(self) -> list[tuple[str, Contact]]:
        """Contacts flagged as a wrong party (C16), with their list's name."""
        rows = await self.db.fetchall(
            "SELECT c.id, c.external_id, c.number_sealed, c.language, c.fields_sealed, "
            "c.needs_review, l.name FROM contacts c JOIN contact_lists l ON l.id = c.list_id "
            "WHERE c.needs_review = 1 ORDER BY l.name, c.id"
        )
        return [(str(r[6]), self._contact(r)) for r in rows]

    async def lists(self) -> list[tuple[str, int]]:
        rows = await self.db.fetchall(
            "SELECT l.name, COUNT(c.id) FROM contact_lists l LEFT JOIN contacts c "
            "ON c.list_id = l.id GROUP BY l.id ORDER BY l.name"
        )
        return [(str(r[0]), int(r[1])) for r in rows]

    async def language_counts(self) -> dict[str, dict[str, int]]:
        """Per list: contacts per language (en, es ...), without unsealing anything."""
        rows = await self.db.fetchall(
            "SELECT l.name, c.language, COUNT(*) FROM contacts c JOIN contact_lists l "
            "ON l.id = c.list_id GROUP BY l.name, c.language ORDER BY l.name, c.language"
        )
        counts: dict[str, dict[str, int]] = {}
        for name, language, count in rows:
            counts.setdefault(str(name), {})[str(language)] = int(count)
        return counts
