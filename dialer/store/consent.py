"""Consent, revocation, do-not-call lists, suppressions and caller IDs.

Everything is looked up by the keyed hash of the E.164 number (C18). Every
change appends its audit entry in the same transaction (C19), so a change
without its audit entry cannot exist.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import aiosqlite

from dialer.consent.crypto import Sealer
from dialer.consent.model import (
    CallFact,
    ConsentFact,
    NumberFacts,
    Purpose,
    RevocationChannel,
)
from dialer.errors import InputError, NotFoundError, StoreError
from dialer.model.consents import ConsentInput, RevocationResult
from dialer.store import audit
from dialer.store.db import Clock, Database, parse_ts, ts
from dialer.store.journal import JournalEntry

#: C4: evidence and DNC entries are kept at least this long
RETENTION = dt.timedelta(days=5 * 366)
#: how far back call history matters to the gate (longest cap window, C13)
HISTORY_WINDOW = dt.timedelta(days=31)

_INSERT_CONSENT = (
    "INSERT INTO consents (number_hash, contact_sealed, scope, source, method, "
    "obtained_at, disclosure_sha256, evidence_ref, signature_ref, written, batch_id, "
    "recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class ConsentStore:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        clock: Clock,
        pending_revocations: PendingRevocations | None = None,
    ) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock
        #: revocations still waiting in the journal (number hash -> received-at
        #: text); the gate honours them like stored ones (C6)
        self._pending = pending_revocations
        self._since_now: dt.datetime | None = None
        self._since_text = ""

    # -- consent (C3) -------------------------------------------------------

    async def add_consent(self, record: ConsentInput, recorded_by: str) -> int:
        async with self.db.transaction() as conn:
            return await self.insert_consent(conn, record, recorded_by, batch_id=None)

    async def import_batch(
        self, records: Sequence[ConsentInput], recorded_by: str, batch_id: str
    ) -> int:
        """A whole consent export in one transaction: all rows or none (C3, C19)."""
        now = self.clock()
        for record in records:
            record.validate(now)
        # keyed hashes and encryption before BEGIN: the write lock is held only
        # for the inserts, so the hotline's revocation (C5) waits less
        now_text = ts(now)
        values = [self._consent_row(r, recorded_by, batch_id, now_text) for r in records]
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT COALESCE(MAX(id), 0) FROM consents") as cur:
                row = await cur.fetchone()
            first_id = int(row[0]) + 1 if row else 1
            after = await audit.head(conn)
            # the aiosqlite thread inserts the rows while this thread chains their
            # audit entries (sqlite releases the GIL while it writes): ~1 s less per
            # 100,000 rows (bench/consent_import.py)
            insert = asyncio.ensure_future(conn.executemany(_INSERT_CONSENT, values))
            await asyncio.sleep(0)  # let the task queue the insert before we compute
            try:
                entries = audit.chain(
                    self.sealer,
                    [
                        (
                            "consent",
                            {
                                "consent_id": first_id + i,
                                "number_hash": v[0],
                                "scope": v[2],
                                "source": v[3],
                                "written": bool(v[9]),
                                "batch": batch_id,
                                "by": recorded_by,
                            },
                        )
                        for i, v in enumerate(values)
                    ],
                    now,
                    after,
                )
            finally:
                await insert  # also on error: never roll back under a running insert
            await audit.write_chained(conn, entries)
        return len(values)

    def _consent_row(
        self, record: ConsentInput, recorded_by: str, batch_id: str | None, now_text: str
    ) -> tuple[Any, ...]:
        return (
            self.sealer.index(record.number),
            self.sealer.seal(record.contact_ref) if record.contact_ref else None,
            record.scope.value,
            record.source.value,
            record.method,
            ts(record.obtained_at),
            record.disclosure_sha256(),
            record.evidence_ref,
            record.signature_ref or None,
            int(record.written),
            batch_id,
            now_text,
            recorded_by,
        )

    async def insert_consent(
        self,
        conn: aiosqlite.Connection,
        record: ConsentInput,
        recorded_by: str,
        batch_id: str | None,
    ) -> int:
        now = self.clock()
        record.validate(now)
        values = self._consent_row(record, recorded_by, batch_id, ts(now))
        cursor = await conn.execute(_INSERT_CONSENT, values)
        consent_id = int(cursor.lastrowid or 0)
        await audit.append(
            conn,
            self.sealer,
            "consent",
            {
                "consent_id": consent_id,
                "number_hash": values[0],
                "scope": record.scope.value,
                "source": record.source.value,
                "written": record.written,
                "batch": batch_id,
                "by": recorded_by,
            },
            now,
        )
        return consent_id

    # -- revocation (C5, C6, C7) ------------------------------------------------

    async def revoke(
        self,
        number: str,
        channel: RevocationChannel,
        *,
        source_ref: str = "",
        received_at: dt.datetime | None = None,
        recorded_by: str = "system",
        wait_s: float | None = None,
    ) -> RevocationResult:
        """Write one revocation to the store, committed before this returns (C5).

        Channels do not call this directly: they call
        :meth:`dialer.store.store.Store.revoke_durably`, which retries and falls
        back to the journal when the store stays unavailable. The gate reads
        revocations right before every attempt, so it takes effect for the next
        attempt of every campaign (C6), whatever purpose (C7). The transaction
        commits with ``synchronous = FULL`` (a confirmation may play right after).
        ``wait_s`` bounds the wait for the write lock (StoreError after it).
        """
        now = self.clock()
        received = received_at or now
        number_hash = self.sealer.index(number)
        async with self.db.transaction(durable=True, wait_s=wait_s) as conn:
            revocation_id = await self._insert_revocation(
                conn,
                number_hash,
                channel.value,
                received_text=ts(received),
                now=now,
                source_ref=source_ref,
                recorded_by=recorded_by,
            )
        return RevocationResult(revocation_id, number_hash, received, now)

    async def revocation_id_for(
        self, number: str, channel: RevocationChannel, source_ref: str
    ) -> int | None:
        """The revocation a channel already recorded for this message or call, if any
        (gateways redeliver SMS; exports overlap with the live hook)."""
        row = await self.db.fetchone(
            "SELECT id FROM revocations WHERE number_hash = ? AND channel = ? AND source_ref = ?",
            (self.sealer.index(number), channel.value, source_ref),
        )
        return int(row[0]) if row else None

    async def revocations_by_channel(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT channel, COUNT(*) FROM revocations GROUP BY channel")
        return {str(r[0]): int(r[1]) for r in rows}

    async def note_for_review(self, number: str, kind: str, details: dict[str, Any]) -> None:
        """An audit entry, with no data row, that staff review (e.g. an SMS that only
        mentions STOP). Only the keyed hash of the number is kept (C18)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            await audit.append(
                conn,
                self.sealer,
                kind,
                {"number_hash": self.sealer.index(number), **details},
                now,
            )

    async def _insert_revocation(
        self,
        conn: aiosqlite.Connection,
        number_hash: str,
        channel: str,
        *,
        received_text: str,
        now: dt.datetime,
        source_ref: str,
        recorded_by: str,
        journal_ref: str = "",
    ) -> int:
        cursor = await conn.execute(
            "INSERT INTO revocations (number_hash, channel, received_at, recorded_at, "
            "source_ref, recorded_by) VALUES (?, ?, ?, ?, ?, ?)",
            (number_hash, channel, received_text, ts(now), source_ref or None, recorded_by),
        )
        revocation_id = int(cursor.lastrowid or 0)
        details: dict[str, Any] = {
            "revocation_id": revocation_id,
            "number_hash": number_hash,
            "channel": channel,
            "received_at": received_text,
            "source_ref": source_ref,
            "by": recorded_by,
        }
        if journal_ref:
            # it waited in the revocation journal while the store was unavailable
            details["journal"] = journal_ref
        await audit.append(conn, self.sealer, "revocation", details, now)
        return revocation_id

    async def insert_journaled(
        self, entries: Sequence[JournalEntry], *, wait_s: float | None = None
    ) -> int:
        """Move journaled revocations into the store, one durable transaction.

        An entry already stored (same number, channel, received-at and source:
        a replay that ran before, or a commit that reported failure but had
        succeeded) is skipped. Returns how many rows were added.
        """
        now = self.clock()
        added = 0
        async with self.db.transaction(durable=True, wait_s=wait_s) as conn:
            for entry in entries:
                async with conn.execute(
                    "SELECT 1 FROM revocations WHERE number_hash = ? AND received_at = ? "
                    "AND channel = ? AND COALESCE(source_ref, '') = ?",
                    (entry.number_hash, entry.received_at, entry.channel, entry.source_ref),
                ) as cursor:
                    if await cursor.fetchone() is not None:
                        continue
                await self._insert_revocation(
                    conn,
                    entry.number_hash,
                    entry.channel,
                    received_text=entry.received_at,
                    now=now,
                    source_ref=entry.source_ref,
                    recorded_by=entry.recorded_by,
                    journal_ref=entry.id,
                )
                added += 1
        return added

    # -- do-not-call lists (C4, C15) -------------------------------------------

    async def add_company_dnc(self, number: str, source: str) -> None:
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO dnc_company (number_hash, added_at, source) VALUES (?, ?, ?) "
                "ON CONFLICT (number_hash) DO NOTHING",
                (number_hash, ts(now), source),
            )
            await audit.append(
                conn,
                self.sealer,
                "dnc-company",
                {"number_hash": number_hash, "source": source},
                now,
            )

    async def import_national_dnc(
        self, numbers: Iterable[str], as_of: dt.date, source_name: str
    ) -> int:
        """Replace the national DNC copy in one transaction (C15)."""
        now = self.clock()
        if as_of > now.date():
            raise InputError(f"C15: the as-of date {as_of} of {source_name} is in the future")
        hashes = sorted({self.sealer.index(n) for n in numbers})
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM dnc_national")
            await conn.executemany(
                "INSERT INTO dnc_national (number_hash) VALUES (?)", ((h,) for h in hashes)
            )
            await conn.execute(
                "INSERT INTO dnc_national_imports (as_of, imported_at, entries, source_name) "
                "VALUES (?, ?, ?, ?)",
                (as_of.isoformat(), ts(now), len(hashes), source_name),
            )
            await audit.append(
                conn,
                self.sealer,
                "dnc-national-import",
                {"as_of": as_of.isoformat(), "entries": len(hashes), "source": source_name},
                now,
            )
        return len(hashes)

    async def national_dnc_as_of(self) -> dt.date | None:
        row = await self.db.fetchone(
            "SELECT as_of FROM dnc_national_imports ORDER BY id DESC LIMIT 1"
        )
        return dt.date.fromisoformat(row[0]) if row else None

    # -- suppressions (C16, C17) ------------------------------------------------

    async def suppress_wrong_party(self, number: str, source_ref: str) -> None:
        """C16: a wrong-number keypress or repeated unallocated result."""
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO suppressions (number_hash, reason, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (number_hash, "wrong-party", ts(now)),
            )
            await conn.execute(
                "UPDATE contacts SET needs_review = 1 WHERE number_hash = ?", (number_hash,)
            )
            await audit.append(
                conn,
                self.sealer,
                "wrong-party",
                {"number_hash": number_hash, "source_ref": source_ref},
                now,
            )

    async def clear_wrong_party(self, number: str, operator: str) -> None:
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM suppressions WHERE number_hash = ? AND reason = 'wrong-party'",
                (number_hash,),
            )
            await conn.execute(
                "UPDATE contacts SET needs_review = 0 WHERE number_hash = ?", (number_hash,)
            )
            await audit.append(
                conn,
                self.sealer,
                "wrong-party-cleared",
                {"number_hash": number_hash, "by": operator},
                now,
            )

    async def erase(self, number: str, operator: str) -> dict[str, int]:
        """C17: remove the person's data, keep a keyed-hash suppression entry."""
        now = self.clock()
        number_hash = self.sealer.index(number)
        counts: dict[str, int] = {}
        async with self.db.transaction() as conn:
            for table in ("consents", "revocations", "contacts", "dnc_company"):
                cursor = await conn.execute(
                    f"DELETE FROM {table} WHERE number_hash = ?",
                    (number_hash,),
                )
                counts[table] = cursor.rowcount
            await conn.execute(
                "INSERT INTO suppressions (number_hash, reason, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (number_hash, "erased", ts(now)),
            )
            await audit.append(
                conn,
                self.sealer,
                "erasure",
                {"number_hash": number_hash, "by": operator, "removed": counts},
                now,
            )
        return counts

    async def purge(self, operator: str) -> dict[str, int]:
        """C4: remove what is past retention, and nothing else.

        A consent goes 5 years after the later of when it was obtained and the
        last call that relied on it; a revocation or company DNC entry goes 5
        years after it was received, taking with it the consents it revoked
        (so purging a revocation can never revive an older consent).
        """
        now = self.clock()
        cutoff = ts(now - RETENTION)
        async with self.db.transaction() as conn:
            revoked = await conn.execute(
                "DELETE FROM consents WHERE EXISTS (SELECT 1 FROM revocations r "
                "WHERE r.number_hash = consents.number_hash AND r.received_at < ? "
                "AND consents.obtained_at <= r.received_at)",
                (cutoff,),
            )
            stale = await conn.execute(
                "DELETE FROM consents WHERE obtained_at < ?1 AND NOT EXISTS ("
                "SELECT 1 FROM attempts a WHERE a.number_hash = consents.number_hash "
                "AND a.allowed = 1 AND a.with_consent = 1 AND a.decided_at >= ?1)",
                (cutoff,),
            )
            revocations = await conn.execute(
                "DELETE FROM revocations WHERE received_at < ?", (cutoff,)
            )
            dnc = await conn.execute("DELETE FROM dnc_company WHERE added_at < ?", (cutoff,))
            counts = {
                "consents": revoked.rowcount + stale.rowcount,
                "revocations": revocations.rowcount,
                "dnc_company": dnc.rowcount,
            }
            await audit.append(
                conn,
                self.sealer,
                "purge",
                {"cutoff": cutoff, "removed": counts, "by": operator},
                now,
            )
        return counts

    # -- caller IDs (C14) ---------------------------------------------------------

    async def add_caller_id(self, number: str, label: str, operator: str) -> None:
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO caller_ids (number_hash, number_sealed, label, added_at) "
                "VALUES (?, ?, ?, ?) "
                "ON CONFLICT (number_hash) DO UPDATE SET label = excluded.label",
                (number_hash, self.sealer.seal(number), label, ts(now)),
            )
            await audit.append(
                conn,
                self.sealer,
                "caller-id-added",
                {"number_hash": number_hash, "label": label, "by": operator},
                now,
            )

    async def remove_caller_id(self, number: str, operator: str) -> None:
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM caller_ids WHERE number_hash = ?", (number_hash,)
            )
            if cursor.rowcount == 0:
                raise NotFoundError("that caller ID is not on the allowlist")
            await audit.append(
                conn,
                self.sealer,
                "caller-id-removed",
                {"number_hash": number_hash, "by": operator},
                now,
            )

    async def caller_ids(self) -> list[tuple[str, str, dt.datetime]]:
        rows = await self.db.fetchall(
            "SELECT number_sealed, label, added_at FROM caller_ids ORDER BY added_at"
        )
        return [(self.sealer.open(r[0]), str(r[1]), parse_ts(r[2])) for r in rows]

    async def caller_id_allowed(self, number: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM caller_ids WHERE number_hash = ?", (self.sealer.index(number),)
        )
        return row is not None

    # -- the gate's view (C2) -----------------------------------------------------

    async def facts_for(self, number: str) -> NumberFacts:
        """What the gate needs about one number, read right before the attempt (C2).

        One indexed query on the event loop's own read connection
        (``Database.quick_read``): ~30 us, so the runner can call it before
        every single attempt and still decide > 20,000 times a second.
        """
        number_hash = self.sealer.index(number)
        rows = await self.db.quick_read(_FACTS_ONE, (number_hash, self._since()))
        facts = _facts_from(rows)
        if self._pending is not None:
            facts = _with_pending(facts, self._pending().get(number_hash))
        return facts

    def _since(self) -> str:
        """Start of the call history the gate needs (C13), as stored text."""
        now = self.clock()
        if now != self._since_now:  # formatting costs more than this comparison
            self._since_now, self._since_text = now, ts(now - HISTORY_WINDOW)
        return self._since_text

    async def facts_for_many(self, numbers: Sequence[str]) -> dict[str, NumberFacts]:
        """Everything the gate needs about these numbers, one round trip per 2,000."""
        by_hash = {self.sealer.index(n): n for n in numbers}
        since = self._since()
        hashes = sorted(by_hash)  # index order: neighbouring B-tree pages
        grouped: dict[str, list[Any]] = {h: [] for h in hashes}
        for start in range(0, len(hashes), _BATCH):
            chunk = json.dumps(hashes[start : start + _BATCH])
            try:
                rows = await self.db.conn.execute_fetchall(_FACTS_MANY, (chunk, since))
            except sqlite3.Error as exc:
                raise StoreError(f"database query failed: {exc}") from exc
            for row in rows:
                grouped[row[1]].append(row)
        pending = self._pending() if self._pending is not None else {}
        return {
            by_hash[h]: _with_pending(_facts_from(rows), pending.get(h))
            for h, rows in grouped.items()
        }


#: one SELECT per fact source; ``{match}`` picks the numbers (rows: kind,
#: number_hash, a, b, c). Every branch is served by a covering index (migration 3).
_FACTS_SQL = (
    "SELECT 'c', number_hash, scope, obtained_at, written FROM consents "
    "WHERE number_hash {match} "
    "UNION ALL SELECT 'r', number_hash, NULL, MAX(received_at), NULL FROM revocations "
    "WHERE number_hash {match} GROUP BY number_hash "
    "UNION ALL SELECT 'd', number_hash, NULL, NULL, NULL FROM dnc_company "
    "WHERE number_hash {match} "
    "UNION ALL SELECT 'n', number_hash, NULL, NULL, NULL FROM dnc_national "
    "WHERE number_hash {match} "
    "UNION ALL SELECT 's', number_hash, reason, NULL, NULL FROM suppressions "
    "WHERE number_hash {match} "
    "UNION ALL SELECT 'a', number_hash, purpose, decided_at, with_consent FROM attempts "
    "WHERE number_hash {match} AND decided_at >= ?2 AND allowed = 1"
)
_FACTS_ONE = _FACTS_SQL.format(match="= ?1")
# one JSON array parameter: the same statement text (prepared once) for any batch size
_FACTS_MANY = _FACTS_SQL.format(match="IN (SELECT value FROM json_each(?1))")
_BATCH = 2000

_PURPOSES = {p.value: p for p in Purpose}

#: number hash -> latest received-at (store text) of revocations waiting in the journal
PendingRevocations = Callable[[], Mapping[str, str]]


def _with_pending(facts: NumberFacts, pending_received: str | None) -> NumberFacts:
    """A journaled revocation blocks like a stored one (C6), until it is replayed."""
    if pending_received is None:
        return facts
    received = parse_ts(pending_received)
    if facts.revoked_at is not None and facts.revoked_at >= received:
        return facts
    return replace(facts, revoked_at=received)


def _facts_from(rows: Iterable[Any]) -> NumberFacts:
    consents: list[ConsentFact] = []
    calls: list[CallFact] = []
    revoked_at: dt.datetime | None = None
    company = national = erased = wrong_party = False
    for kind, _hash, a, b, c in rows:
        if kind == "c":
            consents.append(ConsentFact(_PURPOSES[a], parse_ts(b), bool(c)))
        elif kind == "a":
            calls.append(CallFact(parse_ts(b), _PURPOSES[a], bool(c)))
        elif kind == "r":
            revoked_at = parse_ts(b)
        elif kind == "d":
            company = True
        elif kind == "n":
            national = True
        elif a == "erased":
            erased = True
        elif a == "wrong-party":
            wrong_party = True
    return NumberFacts(
        consents=tuple(consents),
        revoked_at=revoked_at,
        company_dnc=company,
        national_dnc=national,
        erased=erased,
        wrong_party=wrong_party,
        recent_calls=tuple(calls),
    )
