"""Data rows bound to their keyed MAC and to a sealed ledger (C19).

Every consent, revocation, suppression, company DNC, override and caller-ID
row carries ``mac``: an HMAC (row subkey) over the table name and every
non-NULL column (``canonical``). Without the key nobody can insert, edit or
move a row that verifies. A row is written or removed only through
``insert``/``delete`` here, which also keep the **ledger** in ``meta``: per
table the row count and the XOR of the row MACs, itself MAC'd. The audit entry
that records the change names the rows it added or removed (``audit.append``'s
``added``/``removed``), so ``dialer audit verify`` can compare rows and log
both ways, and the start-up check compares rows and ledger in one pass.

The national DNC copy (1,000,000+ hashes, replaced whole) is bound by count
and one keyed digest over its sorted hashes instead of a MAC per row.

The canonical form has a Python side (rows being written) and an SQL side
(rows read back, ``canonical_sql``); a property test holds them equal. NULL
columns are left out, so a nullable column added by a later migration keeps
every older row's MAC valid.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from dialer.consent.crypto import Sealer
from dialer.errors import IntegrityError


@dataclass(frozen=True)
class BoundTable:
    name: str
    #: the columns that identify a row (its key in the audit log)
    key: tuple[str, ...]
    #: verified row by row at start-up: these rows block calls (a deleted or moved
    #: revocation would let the gate allow a call); consents are verified by the
    #: gate itself before it honours one, and by count at start-up
    at_start: bool


BOUND: dict[str, BoundTable] = {
    t.name: t
    for t in (
        BoundTable("consents", ("id",), at_start=False),
        BoundTable("revocations", ("id",), at_start=True),
        BoundTable("suppressions", ("number_hash", "reason"), at_start=True),
        BoundTable("dnc_company", ("number_hash",), at_start=True),
        BoundTable("campaign_overrides", ("campaign_id",), at_start=True),
        BoundTable("caller_ids", ("number_hash",), at_start=True),
    )
}
NATIONAL = "dnc_national"
#: the audit payload field naming the bound rows an entry added ("+") and removed ("-")
BOUND_ROWS = "bound_rows"


@dataclass(frozen=True)
class BoundRow:
    """A row as the audit log names it: table, key, MAC."""

    table: str
    key: str
    mac: str

    def json(self) -> list[str]:
        return [self.table, self.key, self.mac]


# -- the canonical form ------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | str):
        return str(value)
    raise TypeError(f"a bound row holds text, integers or bytes, not {type(value).__name__}")


def canonical(table: str, columns: Sequence[str], values: Mapping[str, Any]) -> bytes:
    """What a row's MAC covers: the table, then ``name=len:text|`` per non-NULL column."""
    parts = [table, "|"]
    append = parts.append
    for name in columns:
        value = values[name]
        if value is None:
            continue
        # str and int first: a bulk import computes this for every row
        kind = type(value)
        text = value if kind is str else str(value) if kind is int else _text(value)
        append(f"{name}={len(text)}:{text}|")
    return "".join(parts).encode()


def canonical_sql(table: str, columns: Sequence[str], alias: str = "") -> str:
    """The same text computed by SQLite (length() counts characters, as len() does)."""
    prefix = f"{alias}." if alias else ""
    parts = [f"'{table}|'"]
    for name in columns:
        col = f"{prefix}{name}"
        text = (
            f"(CASE typeof({col}) WHEN 'blob' THEN lower(hex({col})) ELSE CAST({col} AS TEXT) END)"
        )
        parts.append(f"COALESCE('{name}=' || length({text}) || ':' || {text} || '|', '')")
    return " || ".join(parts)


def key_of(table: BoundTable, values: Mapping[str, Any]) -> str:
    return "|".join(str(values[k]) for k in table.key)


def key_sql(table: BoundTable, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return " || '|' || ".join(f"CAST({prefix}{k} AS TEXT)" for k in table.key)


async def columns(conn: aiosqlite.Connection, table: str) -> tuple[str, ...]:
    """Every column of ``table`` but ``mac``, in schema order (later migrations
    may add columns: they are covered as soon as they hold a value)."""
    async with conn.execute(f"PRAGMA table_info({table})") as cursor:
        names = [str(r[1]) async for r in cursor]
    return tuple(n for n in names if n != "mac")


def row_mac(sealer: Sealer, table: str, cols: Sequence[str], values: Mapping[str, Any]) -> str:
    return sealer.row_mac(canonical(table, cols, values))


# -- the ledger ----------------------------------------------------------------------


@dataclass
class Ledger:
    """Per bound table: rows and XOR of their MACs; the national copy: rows and digest."""

    tables: dict[str, list[int]]  # name -> [count, xor of macs]
    national: list[Any]  # [count, digest hex]

    @classmethod
    def empty(cls, sealer: Sealer) -> Ledger:
        return cls({name: [0, 0] for name in BOUND}, [0, national_digest_of(sealer, [])])

    def text(self) -> str:
        return json.dumps(
            {
                "tables": {k: [v[0], f"{v[1]:032x}"] for k, v in sorted(self.tables.items())},
                "national": self.national,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, text: str) -> Ledger:
        data = json.loads(text)
        tables = {k: [int(v[0]), int(v[1], 16)] for k, v in data["tables"].items()}
        for name in BOUND:
            tables.setdefault(name, [0, 0])
        return cls(tables, list(data["national"]))


def xor_macs(macs: Iterable[str]) -> int:
    digest = 0
    for mac in macs:
        digest ^= int(mac, 16)
    return digest


def national_digest_of(sealer: Sealer, sorted_hashes: Iterable[str]) -> str:
    """One keyed digest over the national copy, in index order."""
    body = hashlib.sha256()
    for number_hash in sorted_hashes:
        body.update(number_hash.encode())
    return sealer.ledger_mac(b"national\x1f" + body.digest())


async def read_ledger(conn: aiosqlite.Connection, sealer: Sealer) -> Ledger:
    async with conn.execute(
        "SELECT key, value FROM meta WHERE key IN ('ledger', 'ledger_mac')"
    ) as cursor:
        meta = {str(r[0]): str(r[1]) async for r in cursor}
    if "ledger" not in meta or "ledger_mac" not in meta:
        raise IntegrityError(
            "the integrity ledger is missing from the database (meta.ledger): rows were "
            "changed outside the dialer; run 'dialer audit verify'"
        )
    if not hmac.compare_digest(sealer.ledger_mac(meta["ledger"].encode()), meta["ledger_mac"]):
        raise IntegrityError(
            "the integrity ledger (meta.ledger) does not match its seal: it was edited "
            "outside the dialer; run 'dialer audit verify'"
        )
    return Ledger.parse(meta["ledger"])


async def write_ledger(conn: aiosqlite.Connection, sealer: Sealer, ledger: Ledger) -> None:
    text = ledger.text()
    await conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [("ledger", text), ("ledger_mac", sealer.ledger_mac(text.encode()))],
    )


async def _apply(
    conn: aiosqlite.Connection,
    sealer: Sealer,
    table: str,
    added: Sequence[BoundRow] = (),
    removed: Sequence[BoundRow] = (),
) -> None:
    if not added and not removed:
        return
    ledger = await read_ledger(conn, sealer)
    entry = ledger.tables[table]
    entry[0] += len(added) - len(removed)
    entry[1] ^= xor_macs(r.mac for r in added) ^ xor_macs(r.mac for r in removed)
    await write_ledger(conn, sealer, ledger)


# -- writing and removing rows --------------------------------------------------------


async def insert(
    conn: aiosqlite.Connection,
    sealer: Sealer,
    table: str,
    values: Mapping[str, Any],
    *,
    on_conflict_ignore: bool = False,
) -> BoundRow | None:
    """Insert one bound row with its MAC; None if it already existed (ignored)."""
    rows = await insert_many(conn, sealer, table, [values], on_conflict_ignore=on_conflict_ignore)
    return rows[0] if rows else None


@dataclass(frozen=True)
class Prepared:
    """Bound rows with their MACs, computed before the write (bulk imports do it
    outside the write lock)."""

    table: str
    columns: tuple[str, ...]
    params: list[tuple[Any, ...]]
    bound: list[BoundRow]


def prepare(
    sealer: Sealer, table: str, cols: Sequence[str], many: Sequence[Mapping[str, Any]]
) -> Prepared:
    spec = BOUND[table]
    params: list[tuple[Any, ...]] = []
    bound: list[BoundRow] = []
    if many and (missing := [c for c in cols if c not in many[0]]):
        raise ValueError(f"a row of {table} lacks {missing} (bound rows name every column)")
    for values in many:
        mac = sealer.row_mac(canonical(table, cols, values))
        params.append((*[values[c] for c in cols], mac))
        bound.append(BoundRow(table, key_of(spec, values), mac))
    return Prepared(table, tuple(cols), params, bound)


async def write_prepared(
    conn: aiosqlite.Connection, sealer: Sealer, prepared: Prepared
) -> list[BoundRow]:
    cols = prepared.columns
    await conn.executemany(
        f"INSERT INTO {prepared.table} ({', '.join(cols)}, mac) "
        f"VALUES ({', '.join('?' * (len(cols) + 1))})",
        prepared.params,
    )
    await _apply(conn, sealer, prepared.table, added=prepared.bound)
    return prepared.bound


async def insert_many(
    conn: aiosqlite.Connection,
    sealer: Sealer,
    table: str,
    many: Sequence[Mapping[str, Any]],
    *,
    on_conflict_ignore: bool = False,
) -> list[BoundRow]:
    """Insert bound rows (every column given, ids included) and count them in the ledger.
    With ``on_conflict_ignore`` a row that already exists is skipped (not returned)."""
    prepared = prepare(sealer, table, await columns(conn, table), many)
    if not on_conflict_ignore:
        return await write_prepared(conn, sealer, prepared)
    cols = prepared.columns
    sql = (
        f"INSERT INTO {table} ({', '.join(cols)}, mac) "
        f"VALUES ({', '.join('?' * (len(cols) + 1))}) ON CONFLICT DO NOTHING"
    )
    written: list[BoundRow] = []
    for params, bound in zip(prepared.params, prepared.bound, strict=True):
        cursor = await conn.execute(sql, params)
        if cursor.rowcount:
            written.append(bound)
    await _apply(conn, sealer, table, added=written)
    return written


async def delete(
    conn: aiosqlite.Connection,
    sealer: Sealer,
    table: str,
    where: str,
    params: Sequence[Any] = (),
) -> list[BoundRow]:
    """Delete bound rows and take them out of the ledger; returns what went."""
    spec = BOUND[table]
    async with conn.execute(
        f"DELETE FROM {table} WHERE {where} RETURNING {key_sql(spec)}, mac", tuple(params)
    ) as cursor:
        gone = [BoundRow(table, str(r[0]), str(r[1])) async for r in cursor]
    await _apply(conn, sealer, table, removed=gone)
    return gone


async def replace_national(
    conn: aiosqlite.Connection, sealer: Sealer, sorted_hashes: Sequence[str]
) -> str:
    """Replace the national DNC copy (C15) and seal its count and digest in the ledger."""
    await conn.execute("DELETE FROM dnc_national")
    await conn.executemany(
        "INSERT INTO dnc_national (number_hash) VALUES (?)", ((h,) for h in sorted_hashes)
    )
    digest = national_digest_of(sealer, sorted_hashes)
    ledger = await read_ledger(conn, sealer)
    ledger.national = [len(sorted_hashes), digest]
    await write_ledger(conn, sealer, ledger)
    return digest


def rows_payload(
    added: Iterable[BoundRow | None] = (), removed: Iterable[BoundRow | None] = ()
) -> dict[str, Any]:
    """The ``bound_rows`` field of an audit entry: what the change added and removed."""
    payload: dict[str, Any] = {}
    plus = [r.json() for r in added if r is not None]
    minus = [r.json() for r in removed if r is not None]
    if plus:
        payload["+"] = plus
    if minus:
        payload["-"] = minus
    return {BOUND_ROWS: payload} if payload else {}
