"""``dialer audit verify``: the audit chain, its sealed head, and the data rows
compared with the log both ways (C19).

1. The chain (``audit.walk``): every entry's MAC and link, and the sealed head.
2. The log's account of the rows: from the latest ``integrity-baseline`` entry
   on, every entry names the bound rows it added and removed (``rows``). The
   rows that existed at the baseline are accounted for by count and MAC digest.
3. The rows themselves, table by table: every row's MAC must verify (an edited
   or forged row is named), every row must be one the log added and did not
   remove (a row inserted without its entry is named), and every row the log
   added and did not remove must be there (a deleted row is named, with the
   entry that recorded it). The national DNC copy must match the digest of its
   last import, and the sealed ledger must match the rows.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from dialer.consent.crypto import Sealer
from dialer.errors import AuditChainError, IntegrityError
from dialer.store import audit, integrity, rows
from dialer.store.db import Database


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    head_seq: int
    head_mac: str
    rows_checked: int = 0
    national_entries: int = 0


@dataclass
class _Account:
    """What the log says about one table's rows."""

    #: rows the log added since the baseline and did not remove: key -> (mac, seq)
    live: dict[str, tuple[str, int]] = field(default_factory=dict)
    baseline_count: int = 0
    baseline_xor: int = 0
    #: baseline rows removed since (their MACs), to take out of the baseline's account
    removed_count: int = 0
    removed_xor: int = 0


class _Log:
    def __init__(self) -> None:
        self.tables = {name: _Account() for name in rows.BOUND}
        self.baseline_seq = 0
        self.national: list[Any] | None = None
        self.national_seq = 0

    def visit(self, seq: int, kind: str, payload_text: str) -> None:
        if kind == "integrity-baseline":
            payload = json.loads(payload_text)
            self.baseline_seq = seq
            self.tables = {name: _Account() for name in rows.BOUND}
            for name, (count, digest) in payload["tables"].items():
                if name in self.tables:
                    self.tables[name].baseline_count = int(count)
                    self.tables[name].baseline_xor = int(digest, 16)
            self.national, self.national_seq = list(payload["national"]), seq
            return
        if kind == "dnc-national-import" and '"national"' in payload_text:
            self.national = list(json.loads(payload_text)["national"])
            self.national_seq = seq
            return
        if f'"{rows.BOUND_ROWS}":' not in payload_text:
            return
        changes = json.loads(payload_text).get(rows.BOUND_ROWS, {})
        for table, key, mac in changes.get("-", []):
            account = self.tables[table]
            if account.live.get(key, ("", 0))[0] == mac:
                del account.live[key]
            else:
                account.removed_count += 1
                account.removed_xor ^= int(mac, 16)
        for table, key, mac in changes.get("+", []):
            self.tables[table].live[key] = (mac, seq)


async def verify(db: Database, sealer: Sealer) -> VerifyReport:
    """Raise ``AuditChainError`` (chain) or ``IntegrityError`` (rows) naming what differs."""
    log = _Log()
    chain, _ = await audit.walk(db, sealer, log.visit)
    checked = 0
    ledger = await rows.read_ledger(db.conn, sealer)
    for table in rows.BOUND.values():
        count, digest = await _check_table(
            db, sealer, table, log.tables[table.name], log.baseline_seq
        )
        # the sealed ledger the start-up check relies on must match these rows too
        if [count, digest] != ledger.tables[table.name]:
            raise IntegrityError(
                f"the integrity ledger does not match table {table.name} "
                f"({count} rows, ledger {ledger.tables[table.name][0]})"
            )
        checked += count
    national = await _check_national(db, sealer, log)
    return VerifyReport(chain.entries, chain.head_seq, chain.head_mac, checked, national)


async def _check_table(
    db: Database, sealer: Sealer, table: rows.BoundTable, account: _Account, baseline_seq: int
) -> tuple[int, int]:
    """Every row of ``table`` against its MAC and the log; its count and MAC digest."""
    cols = await rows.columns(db.conn, table.name)
    survivors = survivors_xor = checked = digest = 0
    async with db.conn.execute(
        f"SELECT {rows.key_sql(table)}, {rows.canonical_sql(table.name, cols)}, mac "
        f"FROM {table.name}"
    ) as cursor:
        async for key, text, mac in cursor:
            key, mac = str(key), str(mac) if mac is not None else ""
            if not mac or not hmac.compare_digest(sealer.row_mac(str(text).encode()), mac):
                raise IntegrityError(
                    f"row {key} of table {table.name} was changed or written outside the "
                    "dialer: its MAC does not verify"
                )
            checked += 1
            digest ^= int(mac, 16)
            logged = account.live.pop(key, None)
            if logged is not None:
                if logged[0] != mac:
                    raise IntegrityError(
                        f"row {key} of table {table.name} is not the row audit entry "
                        f"{logged[1]} recorded (it was replaced)"
                    )
                continue
            survivors += 1
            survivors_xor ^= int(mac, 16)
    if account.live:
        key, (_, seq) = min(account.live.items(), key=lambda item: item[1][1])
        raise IntegrityError(
            f"row {key} of table {table.name}, recorded by audit entry {seq}, is missing: "
            f"it was deleted outside the dialer ({len(account.live)} such rows in "
            f"{table.name})"
        )
    if (
        survivors + account.removed_count != account.baseline_count
        or survivors_xor ^ account.removed_xor != account.baseline_xor
    ):
        extra = survivors + account.removed_count - account.baseline_count
        where = (
            f"the integrity baseline (audit entry {baseline_seq})"
            if baseline_seq
            else ("the audit log")
        )
        what = (
            f"{extra} rows that no audit entry recorded were inserted"
            if extra > 0
            else f"{-extra} rows were deleted"
            if extra < 0
            else "rows were deleted and others put in their place"
        )
        raise IntegrityError(f"table {table.name} does not match {where}: {what}")
    return checked, digest


async def _check_national(db: Database, sealer: Sealer, log: _Log) -> int:
    count, digest = await integrity._national(db, sealer)
    expected: list[Any] = (
        log.national if log.national is not None else [0, rows.national_digest_of(sealer, [])]
    )
    if [count, digest] != [int(expected[0]), str(expected[1])]:
        source = (
            f"audit entry {log.national_seq}" if log.national_seq else "the audit log (no import)"
        )
        raise IntegrityError(
            f"the national do-not-call copy (dnc_national) holds {count} numbers that do "
            f"not match {source} ({expected[0]} numbers): it was edited outside the dialer"
        )
    return count


__all__ = ["AuditChainError", "IntegrityError", "VerifyReport", "verify"]
