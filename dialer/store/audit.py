"""Tamper-evident audit chain (C19).

Each entry's ``mac`` is an HMAC (audit subkey, see ``consent.crypto``) over its
sequence number, time, kind, canonical JSON payload and the previous entry's
mac. Editing, inserting or deleting any entry breaks the chain at that point;
without the key an attacker cannot forge a new chain. ``meta.audit_head`` holds
the last seq and mac (updated in the same transaction), so a truncated tail is
detected too; operators can copy the head elsewhere for an external anchor.

Payloads never hold a plaintext number (C18): only the keyed hash.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from dialer.consent.crypto import Sealer
from dialer.errors import AuditChainError
from dialer.store.db import Database, ts

GENESIS = "0" * 64


# one encoder for every entry: json.dumps with options builds a new encoder per
# call, a third of the cost of a 100,000-row import's audit entries
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def _canonical(payload: dict[str, Any]) -> str:
    return _ENCODER.encode(payload)


def _entry_bytes(seq: int, at: str, kind: str, payload: str, prev: str) -> bytes:
    return f"{seq}\x1f{at}\x1f{kind}\x1f{payload}\x1f{prev}".encode()


async def append(
    conn: aiosqlite.Connection,
    sealer: Sealer,
    kind: str,
    payload: dict[str, Any],
    at: dt.datetime,
) -> int:
    """Append one entry; call inside the transaction that makes the change."""
    async with conn.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1") as cur:
        row = await cur.fetchone()
    seq, prev = (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS)
    at_text, body = ts(at), _canonical(payload)
    mac = sealer.audit_mac(_entry_bytes(seq, at_text, kind, body, prev))
    await conn.execute(
        "INSERT INTO audit (seq, at, kind, payload, prev, mac) VALUES (?, ?, ?, ?, ?, ?)",
        (seq, at_text, kind, body, prev, mac),
    )
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (f"{seq}:{mac}",),
    )
    return seq


async def append_many(
    conn: aiosqlite.Connection,
    sealer: Sealer,
    items: list[tuple[str, dict[str, Any]]],
    at: dt.datetime,
) -> None:
    """Append many entries at once (bulk imports): one read of the head, one insert."""
    if not items:
        return
    await write_chained(conn, chain(sealer, items, at, await head(conn)))


Head = tuple[int, str]
ChainRow = tuple[int, str, str, str, str, str]


async def head(conn: aiosqlite.Connection) -> Head:
    """The last entry's (seq, mac); read inside the writing transaction."""
    async with conn.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1") as cur:
        row = await cur.fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def chain(
    sealer: Sealer, items: list[tuple[str, dict[str, Any]]], at: dt.datetime, after: Head
) -> list[ChainRow]:
    """The entries that follow ``after``, chained (pure CPU: a bulk import runs it
    while the aiosqlite thread inserts the data rows)."""
    seq, prev = after
    at_text = ts(at)
    rows: list[ChainRow] = []
    for kind, payload in items:
        seq += 1
        body = _canonical(payload)
        mac = sealer.audit_mac(_entry_bytes(seq, at_text, kind, body, prev))
        rows.append((seq, at_text, kind, body, prev, mac))
        prev = mac
    return rows


async def write_chained(conn: aiosqlite.Connection, rows: list[ChainRow]) -> None:
    """Insert entries made by ``chain`` and move the head, in the same transaction."""
    if not rows:
        return
    await conn.executemany(
        "INSERT INTO audit (seq, at, kind, payload, prev, mac) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (f"{rows[-1][0]}:{rows[-1][5]}",),
    )


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_seq: int
    head_mac: str


async def verify(db: Database, sealer: Sealer) -> ChainReport:
    """Walk the chain; raise ``AuditChainError`` naming the first broken entry."""
    expected_seq, prev, count = 1, GENESIS, 0
    async with db.conn.execute(
        "SELECT seq, at, kind, payload, prev, mac FROM audit ORDER BY seq"
    ) as cursor:
        async for seq, at, kind, payload, stored_prev, mac in cursor:
            if seq != expected_seq:
                raise AuditChainError(
                    f"audit chain broken at entry {expected_seq}: next entry is {seq} "
                    "(an entry was deleted or inserted)"
                )
            if stored_prev != prev:
                raise AuditChainError(
                    f"audit chain broken at entry {seq}: it does not link to entry {seq - 1}"
                )
            if sealer.audit_mac(_entry_bytes(seq, at, kind, payload, prev)) != mac:
                raise AuditChainError(
                    f"audit chain broken at entry {seq} ({kind}): its content was changed "
                    "or it was not written by this dialer"
                )
            prev, expected_seq, count = mac, seq + 1, count + 1
    head = await db.fetchone("SELECT value FROM meta WHERE key = 'audit_head'")
    if head is not None:
        head_seq, head_mac = str(head[0]).split(":", 1)
        if int(head_seq) != count or head_mac != prev:
            raise AuditChainError(
                f"audit chain broken after entry {count}: the recorded head is entry "
                f"{head_seq} (entries were removed from the end)"
            )
    elif count:
        raise AuditChainError("audit chain head is missing from the database")
    return ChainReport(entries=count, head_seq=count, head_mac=prev)


async def entries(
    db: Database, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[tuple[int, dt.datetime, str, dict[str, Any]]]:
    from dialer.store.db import parse_ts

    clauses, params = [], []
    if since is not None:
        clauses.append("at >= ?")
        params.append(ts(since))
    if until is not None:
        clauses.append("at < ?")
        params.append(ts(until))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetchall(
        f"SELECT seq, at, kind, payload FROM audit {where} ORDER BY seq", params
    )
    return [(int(r[0]), parse_ts(r[1]), str(r[2]), json.loads(r[3])) for r in rows]
