"""Column mappings staff save for their SIS's flat export (issue 12).

A mapping names, for one SIS, which header holds the student id, the
guardian's name, the relationship, the language... and which headers hold
the phones, in the guardian's order of priority. It is saved once
(``dialer contacts mapping add``) and named at every nightly import.
"""

from __future__ import annotations

import json

from dialer.consent.crypto import Sealer
from dialer.errors import InputError, NotFoundError
from dialer.model.contact import ColumnMapping
from dialer.store import audit
from dialer.store.db import Clock, Database, ts


class MappingStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    async def save(
        self, name: str, mapping: ColumnMapping, operator: str, *, replace: bool
    ) -> None:
        if not name.strip():
            raise InputError("the mapping needs a name", field="name")
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM sis_mappings WHERE name = ?", (name,)) as cur:
                exists = await cur.fetchone() is not None
            if exists and not replace:
                raise InputError(
                    f"a mapping named {name!r} exists; add --replace to change it", field="name"
                )
            await conn.execute(
                "INSERT INTO sis_mappings (name, mapping, created_at, created_by) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "mapping = excluded.mapping, created_at = excluded.created_at, "
                "created_by = excluded.created_by",
                (name, json.dumps(mapping.to_json()), ts(now), operator),
            )
            await audit.append(
                conn,
                self.sealer,
                "sis-mapping",
                {"name": name, "mapping": mapping.to_json(), "by": operator},
                now,
            )

    async def get(self, name: str) -> ColumnMapping:
        row = await self.db.fetchone("SELECT mapping FROM sis_mappings WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(
                f"no column mapping named {name!r} (save one with 'contacts mapping add')"
            )
        return ColumnMapping.from_json(json.loads(row[0]))

    async def names(self) -> list[tuple[str, str, str]]:
        rows = await self.db.fetchall(
            "SELECT name, created_at, created_by FROM sis_mappings ORDER BY name"
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def remove(self, name: str, operator: str) -> None:
        now = self.clock()
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM sis_mappings WHERE name = ?", (name,))
            if cursor.rowcount == 0:
                raise NotFoundError(f"no column mapping named {name!r}")
            await audit.append(
                conn, self.sealer, "sis-mapping-removed", {"name": name, "by": operator}, now
            )
