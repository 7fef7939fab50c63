"""``dialer key rotate``: a new master key for the store, in one transaction.

Why rotate: the key file may have been copied (a laptop lost, a staff member
gone), or policy asks for it. What changes, all inside one ``BEGIN IMMEDIATE``
transaction (a failure leaves the database exactly as it was):

1. every sealed column in the registry (``dialer.store.sealed``) is opened
   with the old key and sealed again with the new one, bound to its place;
2. every blind-index column is re-indexed as HMAC(new, old hash): numbers
   erased earlier (C17) survive only as hashes, so the new index is layered on
   the old one (the key file keeps the retired index subkey, see
   ``dialer.consent.crypto``);
3. the audit log is chained again under the new audit key, its payloads'
   number hashes re-indexed; a ``key-rotated`` entry records the old key's
   fingerprint and the old chain's head (for anyone who anchored it), and an
   ``integrity-baseline`` entry the re-sealed rows;
4. every bound row gets its MAC under the new key, and the ledger, the sealed
   head and the key fingerprint are written again.

Before: the store must pass ``audit verify`` (a rotation must never launder
tampering) and the revocation journal must be empty (its entries are sealed
with the old key). The new key is written to ``<key>.new`` first; after the
commit the old file becomes ``<key>.retired-<time>`` (keep it with the backups
made before the rotation: only it opens them) and ``<key>.new`` takes its
place. If the process dies between the commit and the rename, opening the
store says so and names the ``.new`` file to move into place.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from dialer.consent.crypto import KeyMaterial, Sealer, create_key_file, read_key_file
from dialer.errors import ConfigError, StoreError
from dialer.store import audit, integrity, rows, verify
from dialer.store.db import Database, utcnow
from dialer.store.sealed import INDEX_COLUMNS, SEALED_COLUMNS

#: payload fields that hold a blind index (re-indexed with the log)
_HASH_FIELDS = frozenset({"number_hash", "caller_id_hash"})


@dataclass(frozen=True)
class RotationReport:
    resealed_values: int
    reindexed_values: int
    audit_entries: int
    old_fingerprint: str
    new_fingerprint: str
    key_file: Path
    retired_key_file: Path


async def rotate_key(
    db: Database, old: Sealer, key_path: Path, operator: str, *, pending_revocations: int = 0
) -> RotationReport:
    if pending_revocations:
        raise StoreError(
            f"{pending_revocations} revocations still wait in the revocation journal (sealed "
            "with the current key); let the store take them first (start the dialer once, "
            "or retry), then rotate"
        )
    await verify.verify(db, old)  # refuses a tampered store (AuditChainError)
    material = read_key_file(key_path)
    new_material = KeyMaterial.generate((*material.retired_index, material.keys().index))
    pending = key_path.with_name(key_path.name + ".new")
    if pending.exists():
        raise ConfigError(
            f"{pending} exists: an earlier rotation stopped half-way. If 'dialer audit verify' "
            f"works with {key_path}, remove {pending}; otherwise move it to {key_path}"
        )
    create_key_file(pending, new_material)
    new = Sealer(new_material.keys())
    now = utcnow()
    try:
        async with db.transaction() as conn:
            meta = await _meta(conn)
            database_id = meta["database_id"]
            old_fingerprint = meta["key_fingerprint"]
            async with integrity.append_only_lifted(conn):
                resealed = await _reseal(conn, old, new)
                reindexed = await _reindex(conn, new)
                old_head, entries = await _rechain(conn, new, now)
                await integrity.seal_consent_gate(conn, new)
                ledger = await integrity.seal_rows(conn, new)
            await rows.write_ledger(conn, new, ledger)
            new_fingerprint = new.fingerprint(database_id)
            await conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'key_fingerprint'", (new_fingerprint,)
            )
            await audit.append(
                conn,
                new,
                "key-rotated",
                {
                    "old_fingerprint": old_fingerprint,
                    "new_fingerprint": new_fingerprint,
                    "old_head": old_head,
                    "resealed_values": resealed,
                    "reindexed_values": reindexed,
                    "by": operator,
                },
                now,
            )
            await audit.append(
                conn,
                new,
                "integrity-baseline",
                integrity.baseline_payload(ledger, "key rotation", resealed),
                now,
            )
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    retired = key_path.with_name(f"{key_path.name}.retired-{now.strftime('%Y%m%dT%H%M%SZ')}")
    os.replace(key_path, retired)
    os.replace(pending, key_path)
    _fsync_dir(key_path.parent)
    return RotationReport(
        resealed, reindexed, entries + 2, old_fingerprint, new_fingerprint, key_path, retired
    )


async def _meta(conn: aiosqlite.Connection) -> dict[str, str]:
    async with conn.execute(
        "SELECT key, value FROM meta WHERE key IN ('database_id', 'key_fingerprint')"
    ) as cursor:
        found = {str(r[0]): str(r[1]) async for r in cursor}
    if len(found) != 2:
        raise StoreError("the database has no key fingerprint; open it once to upgrade it")
    return found


async def _reseal(conn: aiosqlite.Connection, old: Sealer, new: Sealer) -> int:
    """Every registered sealed value, opened with the old key, sealed with the new
    one; a row id that is itself a blind index moves with the re-index."""
    count = 0
    for sealed in SEALED_COLUMNS.values():
        id_is_index = (sealed.table, sealed.id_column) in INDEX_COLUMNS
        async with conn.execute(
            f"SELECT {sealed.id_column}, {sealed.column} FROM {sealed.table} "
            f"WHERE {sealed.column} IS NOT NULL"
        ) as cursor:
            found = [(r[0], bytes(r[1])) async for r in cursor]
        updates = []
        for row_id, value in found:
            plain = old.open_field(value, sealed.table, sealed.column, row_id)
            new_id = new.reindex(row_id) if id_is_index else row_id
            updates.append((new.seal_field(plain, sealed.table, sealed.column, new_id), row_id))
        await conn.executemany(
            f"UPDATE {sealed.table} SET {sealed.column} = ? WHERE {sealed.id_column} = ?",
            updates,
        )
        count += len(updates)
    return count


async def _reindex(conn: aiosqlite.Connection, new: Sealer) -> int:
    await conn.create_function("dialer_reindex", 1, new.reindex, deterministic=True)
    count = 0
    for column in INDEX_COLUMNS.values():
        cursor = await conn.execute(
            f"UPDATE {column.table} SET {column.column} = dialer_reindex({column.column}) "
            f"WHERE {column.column} IS NOT NULL"
        )
        count += cursor.rowcount
    return count


def _reindex_payload(value: Any, new: Sealer) -> Any:
    if isinstance(value, dict):
        return {
            k: new.reindex(v)
            if k in _HASH_FIELDS and isinstance(v, str)
            else _reindex_payload(v, new)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_reindex_payload(v, new) for v in value]
    return value


async def _rechain(conn: aiosqlite.Connection, new: Sealer, now: dt.datetime) -> tuple[str, int]:
    """The whole log chained again under the new audit key (same seq, time, kind)."""
    async with conn.execute("SELECT seq, at, kind, payload, mac FROM audit ORDER BY seq") as cur:
        found = [tuple(r) async for r in cur]
    old_head = f"{found[-1][0]}:{found[-1][4]}" if found else f"0:{audit.GENESIS}"
    prev = audit.GENESIS
    chained = []
    for seq, at, kind, payload, _mac in found:
        body = audit._canonical(_reindex_payload(json.loads(payload), new))
        mac = new.audit_mac(audit._entry_bytes(int(seq), str(at), str(kind), body, prev))
        chained.append((seq, at, kind, body, prev, mac))
        prev = mac
    await conn.execute("DELETE FROM audit")
    await conn.executemany(
        "INSERT INTO audit (seq, at, kind, payload, prev, mac) VALUES (?, ?, ?, ?, ?, ?)", chained
    )
    if chained:
        await audit._write_head(conn, new, int(chained[-1][0]), str(chained[-1][5]))
    return old_head, len(chained)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
