"""Writing a list version in small chunks (issue 11 items 2 and 4).

A ``VersionWriter`` runs in a worker thread with its own SQLite connection.
Rows arrive already sealed, with ids fixed (``(version << 32) + row``), and
go into ``contacts`` in file order: appends at the end of the table, each
chunk its own short transaction behind the writers' gate (``writegate.py``),
so a revocation waits at most one chunk. Until the version is published
nothing reads these rows.

Two things need the rows in *number* order: the old import's rule that the
same contact id with the same number is loaded once (later copies are
dropped), and the ``contact_numbers`` index. Maintaining either at random
while appending costs a page write per row per commit (a million-row import
took 30 s for that alone), so the writer keeps ``(number, id digest, row)``
keys in a connection-private TEMP table (a file SQLite deletes itself, never
in the store), sorts them once at the end, and walks them in order: later
copies are deleted from the version, every other row goes into
``contact_numbers`` in hash order, which touches each index page once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.consent.crypto import Sealer
from dialer.errors import StoreError
from dialer.model.contact import Contact, NewContact
from dialer.store.contacts import (
    CONTACT_COLUMNS,
    ContactStore,
    contact_from_row,
    version_bounds,
    zones_text,
)
from dialer.store.db import BUSY_TIMEOUT_MS, ts
from dialer.store.sealed import CONTACT_FIELDS, CONTACT_NUMBER
from dialer.store.writegate import WriterGate

#: rows per committed chunk: ~5-15 ms each here, far under the ~50 ms a
#: revocation may wait (bench/contacts_scale.py measures it)
CHUNK_ROWS = 2000
#: checkpoint the WAL ourselves, outside the gate, once it grows by this much,
#: so a revocation's commit never has to copy a bulk writer's pages
CHECKPOINT_FRAMES = 2000

_INSERT_CONTACT = (
    "INSERT INTO contacts (id, version_id, external_id, number_hash, number_sealed, zones, "
    "language, fields_sealed, created_at, guardian_id, phone_kind, phone_rank, purposes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

#: a contact row as written: (id, version, external id, number hash, sealed
#: number, zones, language, sealed fields, created at, guardian, phone kind,
#: phone rank, purposes)
ContactRow = tuple[int, int, str, str, bytes, str, str, bytes | None, str, str, str, int, str]
#: its sort key: (number hash, digest of the external id, id, language, digest
#: of its content: what the version's fingerprint adds up)
ContactKey = tuple[str, bytes, int, str, int]
_FINGERPRINT_MOD = 1 << 63


def prepare_contact(
    sealer: Sealer, version_id: int, position: int, contact: NewContact, created_at: str
) -> tuple[ContactRow, ContactKey]:
    """Seal one contact for ``version_id`` at ``position`` (its place in the file:
    file order is dialling order). Pure CPU: import workers run it."""
    contact_id = version_bounds(version_id)[0] + position
    number_hash = sealer.index(contact.number)
    # each sealed value is bound to its row (contract 4): the id is known here
    fields = (
        sealer.seal_field(
            json.dumps(contact.fields), CONTACT_FIELDS.table, CONTACT_FIELDS.column, contact_id
        )
        if contact.fields
        else None
    )
    # repeated rows are dropped by (student, who answers, number): a mother and a
    # father sharing their home phone are two ways to reach the same child, and
    # each is that parent's phone in their own order (issue 12: --phones)
    who = contact.external_id + ("\0" + contact.guardian_id if contact.guardian_id else "")
    digest = hashlib.blake2b(who.encode(), digest_size=16).digest()
    content = json.dumps(
        [
            contact.external_id,
            number_hash,
            contact.language,
            contact.fields,
            contact.guardian_id,
            contact.phone_kind,
            contact.phone_rank,
            list(contact.purposes),
        ],
        sort_keys=True,
        ensure_ascii=False,
    )
    content_digest = int.from_bytes(hashlib.blake2b(content.encode(), digest_size=8).digest())
    return (
        (
            contact_id,
            version_id,
            contact.external_id,
            number_hash,
            sealer.seal_field(
                contact.number, CONTACT_NUMBER.table, CONTACT_NUMBER.column, contact_id
            ),
            zones_text(contact.zones),
            contact.language,
            fields,
            created_at,
            contact.guardian_id,
            contact.phone_kind,
            contact.phone_rank,
            " ".join(contact.purposes),
        ),
        (number_hash, digest, contact_id, contact.language, content_digest % _FINGERPRINT_MOD),
    )


@dataclass(frozen=True)
class LoadedVersion:
    contacts: int
    duplicates: int
    languages: dict[str, int]
    samples: dict[str, int]
    #: the contents' fingerprint: a sum of row digests, so any order of the same
    #: rows gives the same one (the preflight's "the list changed", issue 14)
    fingerprint: str = ""


class VersionWriter:
    """Chunked writes of one version's rows; sync, for one worker thread."""

    def __init__(self, database: Path, version_id: int) -> None:
        self.version_id = version_id
        self.conn = _connect(database)
        self.gate = WriterGate(database)
        self.languages: Counter[str] = Counter()
        self.samples: dict[str, int] = {}
        self.rows = 0
        self.content = 0
        self._since_checkpoint = 0
        self.conn.execute(
            "CREATE TEMP TABLE load_keys (number_hash TEXT NOT NULL, ext BLOB NOT NULL, "
            "id INTEGER NOT NULL, language TEXT NOT NULL, content INTEGER NOT NULL)"
        )

    def close(self) -> None:
        self.gate.close()
        self.conn.close()

    def add(self, rows: Sequence[ContactRow], keys: Sequence[ContactKey]) -> None:
        """Append prepared rows (in file order) in short committed chunks."""
        for start in range(0, len(rows), CHUNK_ROWS):
            self.write(_INSERT_CONTACT, rows[start : start + CHUNK_ROWS])
        # one transaction on TEMP only: it never locks the store
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT INTO temp.load_keys VALUES (?, ?, ?, ?, ?)", keys)
        self.conn.execute("COMMIT")
        for _hash, _ext, contact_id, language, content in keys:
            self.languages[language] += 1
            self.samples.setdefault(language, contact_id)
            self.content = (self.content + content) % _FINGERPRINT_MOD
        self.rows += len(rows)

    def write(self, sql: str, rows: Sequence[Any]) -> None:
        if not rows:
            return
        try:
            commit_chunk(self.conn, self.gate, sql, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the contact list: {exc}") from exc
        self._since_checkpoint += len(rows)
        if self._since_checkpoint >= CHECKPOINT_FRAMES:
            self._since_checkpoint = 0
            # PASSIVE: copies what it can without waiting for or blocking anyone
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def finish(self) -> LoadedVersion:
        """Drop repeated (id, guardian, number) rows and index the numbers, in number order."""
        self.conn.execute("CREATE INDEX temp.load_keys_order ON load_keys (number_hash, ext, id)")
        duplicates: list[int] = []
        entries: list[tuple[str, int]] = []
        after: tuple[str, bytes, int] = ("", b"", -1)
        previous: tuple[str, bytes] | None = None
        while True:
            page = self.conn.execute(
                "SELECT number_hash, ext, id, language, content FROM temp.load_keys "
                "WHERE (number_hash, ext, id) > (?, ?, ?) ORDER BY number_hash, ext, id "
                "LIMIT ?",
                (*after, CHUNK_ROWS),
            ).fetchall()
            for number_hash, ext, contact_id, language, content in page:
                if (number_hash, ext) == previous:
                    duplicates.append(contact_id)
                    self.languages[language] -= 1
                    self.content = (self.content - content) % _FINGERPRINT_MOD
                else:
                    entries.append((number_hash, contact_id))
                previous = (number_hash, ext)
            self.write(
                "INSERT INTO contact_numbers (number_hash, contact_id) VALUES (?, ?)", entries
            )
            entries = []
            if len(page) < CHUNK_ROWS:
                break
            after = (page[-1][0], page[-1][1], page[-1][2])
        duplicates.sort()
        for start in range(0, len(duplicates), CHUNK_ROWS):
            chunk = [(d,) for d in duplicates[start : start + CHUNK_ROWS]]
            self.write("DELETE FROM contacts WHERE id = ?", chunk)
        dropped = set(duplicates)
        for language, first in list(self.samples.items()):
            if self.languages[language] <= 0:
                del self.samples[language], self.languages[language]
            elif first in dropped:
                self.samples[language] = self._first_of(language)
        return LoadedVersion(
            contacts=self.rows - len(duplicates),
            duplicates=len(duplicates),
            languages=dict(self.languages),
            samples=dict(self.samples),
            fingerprint=f"{self.content:016x}:{self.rows - len(duplicates)}",
        )

    def _first_of(self, language: str) -> int:
        low, high = version_bounds(self.version_id)
        row = self.conn.execute(
            "SELECT MIN(id) FROM contacts WHERE id BETWEEN ? AND ? AND language = ?",
            (low, high, language),
        ).fetchone()
        return int(row[0])


def delete_version_rows(database: Path, version_id: int) -> int:
    """Delete a version's contacts and their number index entries, chunk by chunk."""
    conn = _connect(database)
    writer_gate = WriterGate(database)
    deleted = 0
    try:
        # index entries first, in hash order (a sorted copy in TEMP): each chunk
        # then touches few pages of contact_numbers
        conn.execute(
            "CREATE TEMP TABLE gone AS SELECT number_hash, id FROM main.contacts "
            "WHERE version_id = ?",
            (version_id,),
        )
        conn.execute("CREATE INDEX temp.gone_order ON gone (number_hash, id)")
        after: tuple[str, int] = ("", -1)
        while True:
            page = conn.execute(
                "SELECT number_hash, id FROM temp.gone WHERE (number_hash, id) > (?, ?) "
                "ORDER BY number_hash, id LIMIT ?",
                (*after, CHUNK_ROWS),
            ).fetchall()
            commit_chunk(
                conn,
                writer_gate,
                "DELETE FROM contact_numbers WHERE number_hash = ? AND contact_id = ?",
                page,
            )
            if len(page) < CHUNK_ROWS:
                break
            after = (page[-1][0], page[-1][1])
        while True:
            ids = conn.execute(
                "SELECT id FROM main.contacts WHERE version_id = ? ORDER BY id LIMIT ?",
                (version_id, CHUNK_ROWS),
            ).fetchall()
            commit_chunk(conn, writer_gate, "DELETE FROM contacts WHERE id = ?", ids)
            deleted += len(ids)
            if len(ids) < CHUNK_ROWS:
                break
    except sqlite3.Error as exc:
        raise StoreError(f"cannot delete list version {version_id}: {exc}") from exc
    finally:
        writer_gate.close()
        conn.close()
    return deleted


def commit_chunk(conn: sqlite3.Connection, gate: WriterGate, sql: str, rows: Sequence[Any]) -> None:
    """One short transaction behind the writers' gate, then a pause for waiters
    (issue 11 item 4: a revocation never waits behind a long bulk write)."""
    if not rows:
        return
    gate.acquire_sync()
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        gate.release()
    gate.pause_for_waiters()


def _connect(database: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous = NORMAL")
        # deleted data must not linger in free pages (C17, C18), as in db.py
        conn.execute("PRAGMA secure_delete = ON")
        # this connection checkpoints by itself, outside the gate (see write())
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("PRAGMA cache_size = -16384")
        # sort keys spill to a temporary file SQLite deletes itself, not to memory
        conn.execute("PRAGMA temp_store = FILE")
        conn.execute("PRAGMA temp.cache_size = -16384")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the database {database}: {exc}") from exc
    return conn


async def discard_version(contacts: ContactStore, version_id: int) -> None:
    """Delete an unpublished or retired version entirely (chunked)."""
    await asyncio.to_thread(delete_version_rows, contacts.db.path, version_id)
    await contacts.forget_version(version_id)


async def load_contacts(
    contacts: ContactStore,
    name: str,
    records: Iterable[NewContact],
    *,
    replace: bool,
    operator: str,
    source_name: str = "",
) -> LoadedVersion:
    """Load in-memory contacts as a new version of ``name`` and publish it."""
    version_id = await contacts.begin_version(
        name, replace=replace, operator=operator, source_name=source_name or "library"
    )
    created = ts(contacts.clock())
    prepared = [
        prepare_contact(contacts.sealer, version_id, row, record, created)
        for row, record in enumerate(records, start=2)
    ]

    def write() -> LoadedVersion:
        writer = VersionWriter(contacts.db.path, version_id)
        try:
            writer.add([p[0] for p in prepared], [p[1] for p in prepared])
            return writer.finish()
        finally:
            writer.close()

    try:
        loaded = await asyncio.to_thread(write)
    except BaseException:
        await asyncio.shield(discard_version(contacts, version_id))
        raise
    await publish_or_discard(contacts, version_id, loaded, replace=replace, operator=operator)
    return loaded


async def publish_or_discard(
    contacts: ContactStore,
    version_id: int,
    loaded: LoadedVersion,
    *,
    replace: bool,
    operator: str,
) -> None:
    """Publish a written version in one short transaction and delete the versions it
    retires; a version that cannot be published is deleted, never left half-there."""
    try:
        retired = await contacts.publish_version(
            version_id,
            contacts=loaded.contacts,
            languages=loaded.languages,
            samples=loaded.samples,
            replace=replace,
            operator=operator,
            fingerprint=loaded.fingerprint,
        )
    except BaseException:
        await asyncio.shield(discard_version(contacts, version_id))
        raise
    for old in retired:
        await discard_version(contacts, old)


def read_version(database: Path, sealer: Sealer, version_id: int) -> Iterator[Contact]:
    """A version's contacts in dialling order, page by page, from a private read
    connection (a worker thread merging a delta bundle into the list)."""
    conn = _connect(database)
    try:
        after = -1
        while True:
            rows = conn.execute(
                f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE version_id = ? AND id > ? "
                "ORDER BY id LIMIT ?",
                (version_id, after, CHUNK_ROWS),
            ).fetchall()
            for row in rows:
                yield contact_from_row(sealer, row)
            if len(rows) < CHUNK_ROWS:
                return
            after = int(rows[-1][0])
    finally:
        conn.close()
