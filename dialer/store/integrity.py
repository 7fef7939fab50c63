"""The key belongs to its database, and the store checks itself before dialling (C19).

* ``check_key``: every command that opens the store compares the key file with
  the fingerprint stored at ``init`` (``meta.key_fingerprint``) before it reads
  or writes anything, and stops with "the key file ... does not belong to
  database ...". A database made before fingerprints is checked against its
  first audit entry (or one sealed value) instead, and gets its fingerprint on
  upgrade.
* ``adopt``: runs inside the migration that introduced row MACs, once: binds
  every sealed value to its place (associated data), gives every bound row its
  MAC, writes the sealed ledger and head, and records an ``integrity-baseline``
  audit entry for the rows that existed before (the log named no rows then).
* ``startup_check``: what ``dialer serve`` and ``campaign run`` run before the
  first call (target: <= 2 s with 1,000,000 consents, ``bench/integrity.py``):
  the audit head and its seal, the ledger's seal, every bound table's row
  count, and row by row the MACs of the rows that block calls (revocations,
  suppressions, DNC, overrides, caller IDs) and the national DNC digest.
  Consents are counted; the gate checks each consent's MAC before it honours
  it. ``dialer audit verify`` (``dialer.store.verify``) checks everything.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from dialer.consent.crypto import Sealer, load_keys
from dialer.errors import ConfigError, IntegrityError, KeyMismatchError, StoreError
from dialer.store import audit, rows
from dialer.store.db import Database, utcnow
from dialer.store.facts import consent_gate_mac
from dialer.store.sealed import SEALED_COLUMNS

#: how to investigate, appended to every start-up refusal
INVESTIGATE = (
    "run 'dialer audit verify' to see every row and entry that differs, and restore the "
    "database from a backup taken before the change"
)


def _mismatch(key_path: Path, db_path: Path) -> KeyMismatchError:
    pending = key_path.with_name(key_path.name + ".new")
    hint = ""
    if pending.exists():
        try:
            candidate = Sealer(load_keys(pending))
        except ConfigError:
            candidate = None
        if candidate is not None:
            hint = (
                f" (a key rotation stopped half-way: if {pending} belongs to it, "
                f"move {pending} to {key_path})"
            )
    return KeyMismatchError(
        f"the key file {key_path} does not belong to database {db_path}; restore the key "
        f"from backup (nothing was read or written){hint}"
    )


async def check_key(db: Database, sealer: Sealer, key_path: Path) -> None:
    """Refuse a key that is not this database's (before migrations write anything)."""
    tables = {
        str(r[0]) for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type='table'")
    }
    if "meta" not in tables:
        return  # a new, empty database file
    meta = {
        str(r[0]): str(r[1])
        for r in await db.fetchall(
            "SELECT key, value FROM meta WHERE key IN ('database_id', 'key_fingerprint')"
        )
    }
    if "database_id" in meta and "key_fingerprint" in meta:
        if not hmac.compare_digest(
            sealer.fingerprint(meta["database_id"]), meta["key_fingerprint"]
        ):
            raise _mismatch(key_path, db.path)
        return
    if "key_fingerprint" in meta or "database_id" in meta:
        raise IntegrityError(
            f"database {db.path} has half of its key fingerprint (meta.database_id, "
            f"meta.key_fingerprint): it was edited outside the dialer; {INVESTIGATE}"
        )
    if not await _legacy_key_matches(db, sealer, tables):
        raise _mismatch(key_path, db.path)


async def _legacy_key_matches(db: Database, sealer: Sealer, tables: set[str]) -> bool:
    """A database from before fingerprints: the key must verify its first audit entry,
    or (no entries) open one sealed value."""
    if "audit" in tables:
        first = await db.fetchone(
            "SELECT seq, at, kind, payload, prev, mac FROM audit ORDER BY seq LIMIT 1"
        )
        if first is not None:
            data = audit._entry_bytes(int(first[0]), first[1], first[2], first[3], first[4])
            return hmac.compare_digest(sealer.audit_mac(data), str(first[5]))
    for sealed in SEALED_COLUMNS.values():
        if sealed.table not in tables:
            continue
        row = await db.fetchone(
            f"SELECT {sealed.column} FROM {sealed.table} WHERE {sealed.column} IS NOT NULL LIMIT 1"
        )
        if row is not None:
            try:
                sealer.open(bytes(row[0]))
            except StoreError:
                return False
            return True
    return True  # nothing sealed, nothing logged: any key can start it


@asynccontextmanager
async def append_only_lifted(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """Drop the append-only triggers for the dialer's own re-keying inside one
    transaction (adoption, key rotation) and put them back before it commits."""
    async with conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%append_only'"
    ) as cursor:
        triggers = [(str(r[0]), str(r[1])) async for r in cursor]
    for name, _ in triggers:
        await conn.execute(f"DROP TRIGGER {name}")
    yield
    for _, sql in triggers:
        await conn.execute(sql)


async def seal_consent_gate(conn: aiosqlite.Connection, sealer: Sealer) -> None:
    """Every consent's gate MAC (``facts.consent_gate_mac``), before the row MACs."""
    async with conn.execute(
        "SELECT id, number_hash, scope, obtained_at, written, recorded_at FROM consents"
    ) as cursor:
        found = [tuple(r) async for r in cursor]
    await conn.executemany(
        "UPDATE consents SET gate_mac = ? WHERE id = ?",
        [(consent_gate_mac(sealer, *r), r[0]) for r in found],
    )


async def seal_rows(conn: aiosqlite.Connection, sealer: Sealer) -> rows.Ledger:
    """Give every bound row its MAC and return the ledger of them (inside a transaction)."""
    ledger = rows.Ledger.empty(sealer)
    for table in rows.BOUND.values():
        cols = await rows.columns(conn, table.name)
        keys = ", ".join(table.key)
        async with conn.execute(
            f"SELECT {keys}, {rows.canonical_sql(table.name, cols)} FROM {table.name}"
        ) as cursor:
            found = [(tuple(r[:-1]), str(r[-1])) async for r in cursor]
        macs = [(sealer.row_mac(text.encode()), k) for k, text in found]
        where = " AND ".join(f"{c} = ?" for c in table.key)
        await conn.executemany(
            f"UPDATE {table.name} SET mac = ? WHERE {where}", [(mac, *k) for mac, k in macs]
        )
        ledger.tables[table.name] = [len(macs), rows.xor_macs(m for m, _ in macs)]
    async with conn.execute("SELECT number_hash FROM dnc_national ORDER BY number_hash") as cur:
        national = [str(r[0]) async for r in cur]
    ledger.national = [len(national), rows.national_digest_of(sealer, national)]
    return ledger


async def reseal_legacy_values(conn: aiosqlite.Connection, sealer: Sealer) -> int:
    """Bind every value sealed before associated data existed to its place."""
    count = 0
    async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        existing = {str(r[0]) async for r in cur}
    for sealed in SEALED_COLUMNS.values():
        if sealed.table not in existing:
            continue  # created by a later migration: every value it holds is sealed bound
        async with conn.execute(
            f"SELECT {sealed.id_column}, {sealed.column} FROM {sealed.table} "
            f"WHERE {sealed.column} IS NOT NULL"
        ) as cursor:
            found = [(r[0], bytes(r[1])) async for r in cursor]
        for row_id, value in found:
            plain = sealer.open(value)
            await conn.execute(
                f"UPDATE {sealed.table} SET {sealed.column} = ? WHERE {sealed.id_column} = ?",
                (sealer.seal_field(plain, sealed.table, sealed.column, row_id), row_id),
            )
            count += 1
    return count


async def adopt(conn: aiosqlite.Connection, sealer: Sealer) -> None:
    """The one-time upgrade to sealed rows (runs in the migration's transaction)."""
    now = utcnow()
    async with conn.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1") as cur:
        last = await cur.fetchone()
    database_id = secrets.token_hex(16)
    await conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [("database_id", database_id), ("key_fingerprint", sealer.fingerprint(database_id))],
    )
    async with append_only_lifted(conn):
        resealed = await reseal_legacy_values(conn, sealer)
        await seal_consent_gate(conn, sealer)
        ledger = await seal_rows(conn, sealer)
    await rows.write_ledger(conn, sealer, ledger)
    if last is not None:
        # the legacy head: seal it, so the baseline entry appends to a checked head
        await conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [
                ("audit_head", f"{int(last[0])}:{last[1]}"),
                ("audit_head_mac", audit.head_seal(sealer, int(last[0]), str(last[1]))),
            ],
        )
    if last is not None or any(v[0] for v in ledger.tables.values()) or ledger.national[0]:
        await audit.append(
            conn, sealer, "integrity-baseline", baseline_payload(ledger, "upgrade", resealed), now
        )


def baseline_payload(ledger: rows.Ledger, reason: str, resealed: int = 0) -> dict[str, object]:
    """The rows that exist when row binding starts (upgrade) or restarts (key rotation):
    ``audit verify`` accounts for them by count and MAC digest from here on."""
    return {
        "reason": reason,
        "tables": {k: [v[0], f"{v[1]:032x}"] for k, v in sorted(ledger.tables.items())},
        "national": ledger.national,
        "resealed_values": resealed,
    }


# -- the start-up check ---------------------------------------------------------------


@dataclass(frozen=True)
class StartupReport:
    audit_entries: int
    rows_checked: int
    rows_counted: int
    national_entries: int


async def startup_check(db: Database, sealer: Sealer, action: str = "dial") -> StartupReport:
    """The fast check before dialling (or writing); raises ``IntegrityError`` naming
    what failed."""
    try:
        return await _startup_check(db, sealer)
    except IntegrityError as exc:
        text = str(exc).replace("; run 'dialer audit verify'", "")
        raise IntegrityError(
            f"refusing to {action}: the store {db.path} failed its integrity check: "
            f"{text}; {INVESTIGATE}"
        ) from exc
    except sqlite3.Error as exc:
        raise StoreError(f"cannot check the store {db.path}: {exc}") from exc


async def _startup_check(db: Database, sealer: Sealer) -> StartupReport:
    conn = db.conn
    async with conn.execute(
        "SELECT seq, at, kind, payload, prev, mac FROM audit ORDER BY seq DESC LIMIT 1"
    ) as cur:
        last = await cur.fetchone()
    count_row = await db.fetchone("SELECT COUNT(*) FROM audit")
    entries = int(count_row[0]) if count_row else 0
    if last is not None:
        data = audit._entry_bytes(int(last[0]), last[1], last[2], last[3], last[4])
        if not hmac.compare_digest(sealer.audit_mac(data), str(last[5])):
            raise IntegrityError(
                f"the last audit entry ({last[0]}, {last[2]}) was changed or was not "
                "written by this dialer"
            )
        if int(last[0]) != entries:
            raise IntegrityError(
                f"the audit log ends at entry {last[0]} but holds {entries} entries: "
                "entries were deleted"
            )
    head: audit.Head = (int(last[0]), str(last[5])) if last else (0, audit.GENESIS)
    audit.check_head(await audit._meta(conn), head, sealer)
    ledger = await rows.read_ledger(conn, sealer)
    checked = counted = 0
    for table in rows.BOUND.values():
        expected_count, expected_xor = ledger.tables[table.name]
        if not table.at_start:
            found = await db.fetchone(f"SELECT COUNT(*) FROM {table.name}")
            n = int(found[0]) if found else 0
            counted += n
            if n != expected_count:
                raise IntegrityError(_count_message(table.name, n, expected_count))
            continue
        cols = await rows.columns(conn, table.name)
        n, digest = 0, 0
        async with conn.execute(
            f"SELECT {rows.key_sql(table)}, {rows.canonical_sql(table.name, cols)}, mac "
            f"FROM {table.name}"
        ) as cursor:
            async for key, text, mac in cursor:
                if mac is None or not hmac.compare_digest(
                    sealer.row_mac(str(text).encode()), str(mac)
                ):
                    raise IntegrityError(
                        f"row {key} of table {table.name} was changed or written outside "
                        "the dialer (its MAC does not verify)"
                    )
                n += 1
                digest ^= int(mac, 16)
        checked += n
        if n != expected_count:
            raise IntegrityError(_count_message(table.name, n, expected_count))
        if digest != expected_xor:
            raise IntegrityError(
                f"table {table.name} holds other rows than the ledger sealed (a row was "
                "deleted and another put back)"
            )
    national = await _national(db, sealer)
    if [national[0], national[1]] != ledger.national:
        raise IntegrityError(
            f"the national do-not-call copy holds {national[0]} numbers, not the "
            f"{ledger.national[0]} it was imported with (dnc_national was edited)"
        )
    return StartupReport(entries, checked, counted, national[0])


def _count_message(table: str, found: int, expected: int) -> str:
    what = "deleted" if found < expected else "inserted"
    return (
        f"table {table} holds {found} rows but the ledger sealed {expected}: "
        f"{abs(found - expected)} rows were {what} outside the dialer"
    )


async def _national(db: Database, sealer: Sealer) -> tuple[int, str]:
    """Count and keyed digest of the national copy, read in index order."""
    found = [
        str(r[0])
        for r in await db.conn.execute_fetchall(
            "SELECT number_hash FROM dnc_national ORDER BY number_hash"
        )
    ]
    return len(found), rows.national_digest_of(sealer, found)
