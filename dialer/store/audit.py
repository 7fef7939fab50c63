"""Tamper-evident audit chain (C19).

Each entry's ``mac`` is an HMAC (audit subkey, see ``consent.crypto``) over its
sequence number, time, kind, canonical JSON payload and the previous entry's
mac. Editing, inserting or deleting any entry breaks the chain at that point;
without the key an attacker cannot forge a new chain. ``meta.audit_head`` holds
the last seq (= the number of entries) and mac, and ``meta.audit_head_mac``
seals it with the audit key (updated in the same transaction), so a truncated
tail is detected even when the head was rewritten to match it. Every write
checks the seal before it appends: a tampered store is never written to.
Operators can copy the head elsewhere for an external anchor.

An entry that adds or removes data rows names them in ``payload["bound_rows"]``
(``dialer.store.rows``): ``audit verify`` compares rows and log both ways.

Payloads never hold a plaintext number (C18): only the keyed hash.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from dialer.consent.crypto import Sealer
from dialer.errors import AuditChainError, IntegrityError
from dialer.store.db import Database, parse_ts, ts
from dialer.store.rows import BoundRow, rows_payload

GENESIS = "0" * 64


# one encoder for every entry: json.dumps with options builds a new encoder per
# call, a third of the cost of a 100,000-row import's audit entries
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def _canonical(payload: dict[str, Any]) -> str:
    return _ENCODER.encode(payload)


def _entry_bytes(seq: int, at: str, kind: str, payload: str, prev: str) -> bytes:
    return f"{seq}\x1f{at}\x1f{kind}\x1f{payload}\x1f{prev}".encode()


def head_seal(sealer: Sealer, seq: int, mac: str) -> str:
    """The keyed MAC over the head: the entry count and the last entry's mac."""
    return sealer.audit_mac(f"audit-head\x1f{seq}\x1f{mac}".encode())


Head = tuple[int, str]
ChainRow = tuple[int, str, str, str, str, str]


async def _meta(conn: aiosqlite.Connection) -> dict[str, str]:
    async with conn.execute(
        "SELECT key, value FROM meta WHERE key IN ('audit_head', 'audit_head_mac')"
    ) as cur:
        return {str(r[0]): str(r[1]) async for r in cur}


async def head(conn: aiosqlite.Connection, sealer: Sealer) -> Head:
    """The last entry's (seq, mac), checked against the sealed head; read inside
    the writing transaction. Raises ``IntegrityError`` on a tampered tail."""
    async with conn.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1") as cur:
        row = await cur.fetchone()
    last: Head = (int(row[0]), str(row[1])) if row else (0, GENESIS)
    check_head(await _meta(conn), last, sealer)
    return last


def check_head(meta: dict[str, str], last: Head, sealer: Sealer) -> None:
    """``meta`` (audit_head, audit_head_mac) must seal exactly ``last``."""
    recorded = meta.get("audit_head")
    seal = meta.get("audit_head_mac")
    if recorded is None and last == (0, GENESIS) and seal is None:
        return  # a new database: nothing appended yet
    if recorded is None or seal is None:
        raise IntegrityError(
            f"the audit log's sealed head is missing from the database (meta.audit_head"
            f"{'' if recorded is None else '_mac'}) while the log has {last[0]} entries: "
            "it was removed outside the dialer; run 'dialer audit verify'"
        )
    seq_text, _, mac = recorded.partition(":")
    if not hmac.compare_digest(head_seal(sealer, int(seq_text), mac), seal):
        raise IntegrityError(
            f"the audit log's head (meta.audit_head = entry {seq_text}) does not match its "
            "seal: it was rewritten outside the dialer (entries removed from the end?); "
            "run 'dialer audit verify'"
        )
    if (int(seq_text), mac) != last:
        raise IntegrityError(
            f"the audit log ends at entry {last[0]} but its sealed head is entry {seq_text}: "
            f"entries were removed from (or added to) the end; run 'dialer audit verify'"
        )


async def _write_head(conn: aiosqlite.Connection, sealer: Sealer, seq: int, mac: str) -> None:
    await conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [("audit_head", f"{seq}:{mac}"), ("audit_head_mac", head_seal(sealer, seq, mac))],
    )


def _with_rows(
    payload: dict[str, Any], added: Iterable[BoundRow | None], removed: Iterable[BoundRow | None]
) -> dict[str, Any]:
    extra = rows_payload(added, removed)
    return {**payload, **extra} if extra else payload


async def append(
    conn: aiosqlite.Connection,
    sealer: Sealer,
    kind: str,
    payload: dict[str, Any],
    at: dt.datetime,
    *,
    added: Iterable[BoundRow | None] = (),
    removed: Iterable[BoundRow | None] = (),
) -> int:
    """Append one entry; call inside the transaction that makes the change, naming
    the bound rows it ``added`` and ``removed`` (``dialer.store.rows``)."""
    rows = chain(
        sealer, [(kind, _with_rows(payload, added, removed))], at, await head(conn, sealer)
    )
    await write_chained(conn, sealer, rows)
    return rows[0][0]


async def append_many(
    conn: aiosqlite.Connection,
    sealer: Sealer,
    items: list[tuple[str, dict[str, Any]]],
    at: dt.datetime,
) -> None:
    """Append many entries at once (bulk imports): one read of the head, one insert."""
    if not items:
        return
    await write_chained(conn, sealer, chain(sealer, items, at, await head(conn, sealer)))


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


async def write_chained(conn: aiosqlite.Connection, sealer: Sealer, rows: list[ChainRow]) -> None:
    """Insert entries made by ``chain`` and move the sealed head, in the same transaction."""
    if not rows:
        return
    await conn.executemany(
        "INSERT INTO audit (seq, at, kind, payload, prev, mac) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
    await _write_head(conn, sealer, rows[-1][0], rows[-1][5])


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_seq: int
    head_mac: str


async def verify(db: Database, sealer: Sealer) -> ChainReport:
    """Walk the chain; raise ``AuditChainError`` naming the first broken entry."""
    report, _ = await walk(db, sealer, lambda _seq, _kind, _payload: None)
    return report


async def walk(db: Database, sealer: Sealer, visit: Any) -> tuple[ChainReport, int]:
    """Verify the chain entry by entry, calling ``visit(seq, kind, payload_text)`` for
    each; returns the report and the number of entries visited."""
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
            visit(seq, kind, payload)
            prev, expected_seq, count = mac, seq + 1, count + 1
    meta = {
        str(r[0]): str(r[1])
        for r in await db.fetchall(
            "SELECT key, value FROM meta WHERE key IN ('audit_head', 'audit_head_mac')"
        )
    }
    recorded = meta.get("audit_head")
    if recorded is not None:
        head_seq, head_mac = recorded.split(":", 1)
        if int(head_seq) != count or head_mac != prev:
            raise AuditChainError(
                f"audit chain broken after entry {count}: the recorded head is entry "
                f"{head_seq} (entries were removed from the end)"
            )
    elif count:
        raise AuditChainError("audit chain head is missing from the database")
    try:
        check_head(meta, (count, prev), sealer)
    except IntegrityError as exc:
        raise AuditChainError(
            f"audit chain broken after entry {count}: {exc}".replace(
                "; run 'dialer audit verify'", ""
            )
        ) from exc
    return ChainReport(entries=count, head_seq=count, head_mac=prev), count


async def entries(
    db: Database, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[tuple[int, dt.datetime, str, dict[str, Any]]]:
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
