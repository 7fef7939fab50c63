"""Contact lists: versions of sealed contacts, read in pages (issue 11).

A list's contents are immutable *versions*. An import creates a ``loading``
version, writes its rows in small committed chunks (``store.listload``), then
publishes it in one short transaction; until then nothing reads it. A new
import of the same list (``--replace``) retires the old version; a campaign
pins the version it was created on and keeps calling exactly those contacts.
Retired versions no campaign pins are deleted in chunks.

Contact ids are ``(version << 32) + row number``: file order is dialling
order, and the id (which sealed values are bound to) is known before the row
is written. Numbers and fields are sealed (C18); numbers are looked up by
their keyed hash through ``contact_numbers``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

from dialer.consent.crypto import Sealer
from dialer.errors import InputError, NotFoundError
from dialer.model.contact import Contact, ListVersion, NewContact
from dialer.store import audit
from dialer.store.db import Clock, Database, ts
from dialer.store.sealed import CONTACT_FIELDS, CONTACT_NUMBER

#: contact ids of version v are (v << ROW_BITS) + row number
ROW_BITS = 32
#: contacts read per page when a campaign or a report walks a list
PAGE_SIZE = 1000

CONTACT_COLUMNS = (
    "id, external_id, number_sealed, language, fields_sealed, needs_review, zones, version_id, "
    "guardian_id, phone_kind, phone_rank, purposes"
)


def version_bounds(version_id: int) -> tuple[int, int]:
    """The contact ids rows loaded into ``version_id`` can have."""
    return version_id << ROW_BITS, ((version_id + 1) << ROW_BITS) - 1


def zones_text(zones: Iterable[str]) -> str:
    return " ".join(zones)


class ContactStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    # -- loading and publishing versions ------------------------------------------

    async def begin_version(
        self, name: str, *, replace: bool, operator: str, source_name: str
    ) -> int:
        """A new, invisible version of list ``name`` for an import to fill."""
        if not name.strip():
            raise InputError("the contact list needs a name")
        now = ts(self.clock())
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT id, version_id FROM contact_lists WHERE name = ?", (name,)
            ) as cur:
                row = await cur.fetchone()
            if row is not None and row[1] is not None and not replace:
                raise _exists(name)
            if row is None:
                cursor = await conn.execute(
                    "INSERT INTO contact_lists (name, created_at) VALUES (?, ?)", (name, now)
                )
                list_id = int(cursor.lastrowid or 0)
            else:
                list_id = int(row[0])
            cursor = await conn.execute(
                "INSERT INTO list_versions (list_id, state, source_name, loader_pid, "
                "created_at, created_by) VALUES (?, 'loading', ?, ?, ?, ?)",
                (list_id, source_name, os.getpid(), now, operator),
            )
            return int(cursor.lastrowid or 0)

    async def publish_version(
        self,
        version_id: int,
        *,
        contacts: int,
        languages: dict[str, int],
        samples: dict[str, int],
        replace: bool,
        operator: str,
        fingerprint: str = "",
    ) -> list[int]:
        """Make a loaded version the list's contents, in one short transaction.

        Returns the versions this retired that no campaign pins (to delete).
        """
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT l.id, l.name, l.version_id, v.state, v.source_name FROM list_versions v "
                "JOIN contact_lists l ON l.id = v.list_id WHERE v.id = ?",
                (version_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None or row[3] != "loading":
                raise NotFoundError(f"list version {version_id} is not being loaded")
            list_id, name, current = int(row[0]), str(row[1]), row[2]
            if current is not None and not replace:
                raise _exists(name)
            await conn.execute(
                "UPDATE list_versions SET state = 'published', contacts = ?, languages = ?, "
                "samples = ?, published_at = ?, loader_pid = NULL, fingerprint = ? WHERE id = ?",
                (
                    contacts,
                    json.dumps(languages),
                    json.dumps(samples),
                    ts(now),
                    fingerprint or None,
                    version_id,
                ),
            )
            await conn.execute(
                "UPDATE list_versions SET state = 'retired' WHERE list_id = ? "
                "AND state = 'published' AND id != ?",
                (list_id, version_id),
            )
            await conn.execute(
                "UPDATE contact_lists SET version_id = ? WHERE id = ?", (version_id, list_id)
            )
            await audit.append(
                conn,
                self.sealer,
                "contacts-import",
                {
                    "list": name,
                    "contacts": contacts,
                    "replace": current is not None,
                    "version": version_id,
                    "source": str(row[4]),
                    "by": operator,
                },
                now,
            )
            async with conn.execute(
                "SELECT v.id FROM list_versions v WHERE v.list_id = ? AND v.state = 'retired' "
                "AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.version_id = v.id)",
                (list_id,),
            ) as cur:
                return [int(r[0]) for r in await cur.fetchall()]

    async def stale_versions(self) -> list[int]:
        """Versions left 'loading' by an import that died (its process is gone)."""
        rows = await self.db.fetchall(
            "SELECT id, loader_pid FROM list_versions WHERE state = 'loading'"
        )
        return [int(r[0]) for r in rows if not _alive(r[1])]

    async def forget_version(self, version_id: int) -> None:
        """Drop a version's row once its contacts are deleted (store.listload)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM list_versions WHERE id = ? AND state != 'published'", (version_id,)
            )
            # a list whose first import failed never existed for anyone
            await conn.execute(
                "DELETE FROM contact_lists WHERE version_id IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM list_versions v WHERE v.list_id = contact_lists.id)"
            )

    async def import_list(
        self, name: str, contacts: Iterable[NewContact], *, replace: bool, operator: str
    ) -> int:
        """Load ``contacts`` as the list's new version (small lists: tests, samples).

        Files go through ``dialer.imports.contacts``, which streams; both end in
        the same loader. Returns the list id.
        """
        from dialer.store.listload import load_contacts  # the loader imports this module

        await load_contacts(self, name, contacts, replace=replace, operator=operator)
        return await self.list_id(name)

    # -- reading ---------------------------------------------------------------------

    async def list_id(self, name: str) -> int:
        row = await self.db.fetchone(
            "SELECT id FROM contact_lists WHERE name = ? AND version_id IS NOT NULL", (name,)
        )
        if row is None:
            raise NotFoundError(f"no contact list named {name!r} (load it with 'contacts import')")
        return int(row[0])

    async def published(self, name: str) -> ListVersion:
        """The version of list ``name`` a new campaign pins."""
        row = await self.db.fetchone(
            "SELECT version_id FROM contact_lists WHERE name = ? AND version_id IS NOT NULL",
            (name,),
        )
        if row is None:
            raise NotFoundError(f"no contact list named {name!r} (load it with 'contacts import')")
        return await self.version(int(row[0]))

    async def version(self, version_id: int) -> ListVersion:
        row = await self.db.fetchone(
            "SELECT v.id, v.list_id, l.name, v.state, v.contacts, v.languages, v.samples "
            "FROM list_versions v JOIN contact_lists l ON l.id = v.list_id WHERE v.id = ?",
            (version_id,),
        )
        if row is None:
            raise NotFoundError(f"no contact list version {version_id}")
        languages = {str(k): int(v) for k, v in json.loads(row[5]).items()}
        samples = {str(k): int(v) for k, v in json.loads(row[6]).items()}
        if int(row[4]) and not samples:
            # a version loaded before versions kept these (migration): count once
            languages, samples = await self._language_stats(version_id)
        return ListVersion(
            id=int(row[0]),
            list_id=int(row[1]),
            list_name=str(row[2]),
            state=str(row[3]),
            contacts=int(row[4]),
            languages=languages,
            samples=samples,
        )

    async def _language_stats(self, version_id: int) -> tuple[dict[str, int], dict[str, int]]:
        rows = await self.db.fetchall(
            "SELECT language, COUNT(*), MIN(id) FROM contacts WHERE version_id = ? "
            "GROUP BY language",
            (version_id,),
        )
        return {str(r[0]): int(r[1]) for r in rows}, {str(r[0]): int(r[2]) for r in rows}

    async def page(
        self,
        version_id: int,
        after_id: int = -1,
        limit: int = PAGE_SIZE,
        *,
        with_fields: bool = True,
    ) -> list[Contact]:
        """Up to ``limit`` contacts of a version after ``after_id``, in dialling order.

        Each page is its own short query: a walk over a million contacts never
        keeps a read transaction open (which would hold back WAL checkpoints).
        ``with_fields=False`` leaves the personal fields sealed (reports).
        """
        rows = await self.db.fetchall(
            f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE version_id = ? AND id > ? "
            "ORDER BY id LIMIT ?",
            (version_id, after_id, limit),
        )
        return [self._contact(r, with_fields) for r in rows]

    async def walk(self, version_id: int, page_size: int = PAGE_SIZE) -> AsyncIterator[Contact]:
        """Every contact of a version in dialling order, one page in memory at a time."""
        after = -1
        while True:
            page = await self.page(version_id, after, page_size)
            for contact in page:
                yield contact
            if len(page) < page_size:
                return
            after = page[-1].id

    async def by_ids(self, ids: Iterable[int]) -> list[Contact]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        rows = await self.db.fetchall(
            f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE id IN "
            "(SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps(wanted),),
        )
        return [self._contact(r) for r in rows]

    async def samples(self, version: ListVersion) -> list[Contact]:
        """The first contact of each language (what message validation measures)."""
        return await self.by_ids(version.samples.values())

    async def version_contacts(self, version_id: int) -> list[Contact]:
        """A whole version in memory: small lists only (tests, previews)."""
        return [c async for c in self.walk(version_id)]

    async def contacts(self, list_id: int) -> list[Contact]:
        """The published contents of a list, whole (small lists only)."""
        row = await self.db.fetchone(
            "SELECT version_id FROM contact_lists WHERE id = ?", (list_id,)
        )
        if row is None or row[0] is None:
            return []
        return await self.version_contacts(int(row[0]))

    async def find(self, version_id: int, external_id: str) -> Contact | None:
        """The contact with this id in a version (a scan: previews, not dialling)."""
        row = await self.db.fetchone(
            f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE version_id = ? AND external_id = ? "
            "ORDER BY id LIMIT 1",
            (version_id, external_id),
        )
        return self._contact(row) if row is not None else None

    async def contact(self, contact_id: int) -> Contact:
        row = await self.db.fetchone(
            f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = ?", (contact_id,)
        )
        if row is None:
            raise NotFoundError(f"no contact with id {contact_id}")
        return self._contact(row)

    def _contact(self, row: Any, with_fields: bool = True) -> Contact:
        return contact_from_row(self.sealer, row, with_fields)

    async def needing_review(self) -> list[tuple[str, Contact]]:
        """Contacts of published lists flagged as a wrong party (C16), with the list's name."""
        rows = await self.db.fetchall(
            f"SELECT {', '.join('c.' + c for c in CONTACT_COLUMNS.split(', '))}, l.name "
            "FROM contacts c JOIN contact_lists l ON l.version_id = c.version_id "
            "WHERE c.id IN (SELECT n.contact_id FROM suppressions s JOIN contact_numbers n "
            "ON n.number_hash = s.number_hash WHERE s.reason = 'wrong-party') "
            "AND c.needs_review = 1 ORDER BY l.name, c.id"
        )
        return [(str(r[12]), self._contact(r)) for r in rows]

    async def lists(self) -> list[tuple[str, int]]:
        rows = await self.db.fetchall(
            "SELECT l.name, v.contacts FROM contact_lists l JOIN list_versions v "
            "ON v.id = l.version_id ORDER BY l.name"
        )
        return [(str(r[0]), int(r[1])) for r in rows]

    async def language_counts(self) -> dict[str, dict[str, int]]:
        """Per list: contacts per language (en, es ...), as stored with each published
        version at import (nothing is counted or unsealed here)."""
        rows = await self.db.fetchall(
            "SELECT l.name, v.languages FROM contact_lists l JOIN list_versions v "
            "ON v.id = l.version_id ORDER BY l.name"
        )
        return {
            str(name): {str(k): int(v) for k, v in sorted(json.loads(text).items())}
            for name, text in rows
        }


def _exists(name: str) -> InputError:
    return InputError(f"contact list {name!r} already exists; use --replace to load it again")


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def contact_from_row(sealer: Sealer, row: Any, with_fields: bool = True) -> Contact:
    """A ``Contact`` from a row of ``CONTACT_COLUMNS``, unsealed (each value bound to
    its row, contract 4)."""
    contact_id, fields_sealed = int(row[0]), row[4]
    fields = (
        json.loads(
            sealer.open_field(
                fields_sealed, CONTACT_FIELDS.table, CONTACT_FIELDS.column, contact_id
            )
        )
        if with_fields and isinstance(fields_sealed, bytes)
        else {}
    )
    return Contact(
        id=contact_id,
        external_id=str(row[1]),
        number=sealer.open_field(row[2], CONTACT_NUMBER.table, CONTACT_NUMBER.column, contact_id),
        language=str(row[3]),
        fields=fields,
        needs_review=bool(row[5]),
        zones=tuple(str(row[6]).split()),
        guardian_id=str(row[8]),
        phone_kind=str(row[9]),
        phone_rank=int(row[10]),
        purposes=tuple(str(row[11]).split()),
    )
