"""Do-not-call lists, suppressions, caller IDs, erasure and purge (C4, C14-C17).

Everything is looked up by the keyed hash of the E.164 number (C18). Every
change appends its audit entry in the same transaction (C19), naming the bound
rows it added and removed (``dialer.store.rows``), so a change without its
audit entry cannot exist and ``audit verify`` compares rows and log both ways.
``ConsentStore`` (``dialer.store.consent``) builds on this class.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import aiosqlite

from dialer.consent.crypto import Sealer
from dialer.errors import InputError, NotFoundError
from dialer.store import audit, rows
from dialer.store.campaigns import mark_digit
from dialer.store.db import Clock, Database, parse_ts, ts
from dialer.store.facts import REVOKED_SUPPRESSION
from dialer.store.sealed import CALLER_ID_NUMBER

#: C4: evidence and DNC entries are kept at least this long
RETENTION = dt.timedelta(days=5 * 366)


class ListStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    # -- do-not-call lists (C4, C15) -------------------------------------------

    async def add_company_dnc(self, number: str, source: str) -> None:
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            added = await rows.insert(
                conn,
                self.sealer,
                "dnc_company",
                {"number_hash": number_hash, "added_at": ts(now), "source": source},
                on_conflict_ignore=True,
            )
            await audit.append(
                conn,
                self.sealer,
                "dnc-company",
                {"number_hash": number_hash, "source": source},
                now,
                added=[added],
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
            digest = await rows.replace_national(conn, self.sealer, hashes)
            await conn.execute(
                "INSERT INTO dnc_national_imports (as_of, imported_at, entries, source_name) "
                "VALUES (?, ?, ?, ?)",
                (as_of.isoformat(), ts(now), len(hashes), source_name),
            )
            await audit.append(
                conn,
                self.sealer,
                "dnc-national-import",
                {
                    "as_of": as_of.isoformat(),
                    "entries": len(hashes),
                    "source": source_name,
                    "national": [len(hashes), digest],
                },
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
            added = await rows.insert(
                conn,
                self.sealer,
                "suppressions",
                {"number_hash": number_hash, "reason": "wrong-party", "created_at": ts(now)},
                on_conflict_ignore=True,
            )
            await conn.execute(
                "UPDATE contacts SET needs_review = 1 WHERE id IN "
                "(SELECT contact_id FROM contact_numbers WHERE number_hash = ?)",
                (number_hash,),
            )
            await audit.append(
                conn,
                self.sealer,
                "wrong-party",
                {"number_hash": number_hash, "source_ref": source_ref},
                now,
                added=[added],
            )
            # issue 13: the call's "8 pressed" mark commits with its suppression
            await mark_digit(conn, source_ref, "8")

    async def clear_wrong_party(self, number: str, operator: str) -> None:
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            removed = await rows.delete(
                conn,
                self.sealer,
                "suppressions",
                "number_hash = ? AND reason = 'wrong-party'",
                (number_hash,),
            )
            await conn.execute(
                "UPDATE contacts SET needs_review = 0 WHERE id IN "
                "(SELECT contact_id FROM contact_numbers WHERE number_hash = ?)",
                (number_hash,),
            )
            await audit.append(
                conn,
                self.sealer,
                "wrong-party-cleared",
                {"number_hash": number_hash, "by": operator},
                now,
                removed=removed,
            )

    async def erase(self, number: str, operator: str) -> dict[str, int]:
        """C17: remove the person's data, keep a keyed-hash suppression entry."""
        now = self.clock()
        number_hash = self.sealer.index(number)
        counts: dict[str, int] = {}
        removed: list[rows.BoundRow] = []
        async with self.db.transaction() as conn:
            for table in ("consents", "revocations", "dnc_company"):
                gone = await rows.delete(
                    conn, self.sealer, table, "number_hash = ?", (number_hash,)
                )
                counts[table] = len(gone)
                removed += gone
            # contacts are found through their number index (store/contacts.py)
            cursor = await conn.execute(
                "DELETE FROM contacts WHERE id IN "
                "(SELECT contact_id FROM contact_numbers WHERE number_hash = ?)",
                (number_hash,),
            )
            counts["contacts"] = cursor.rowcount
            await conn.execute("DELETE FROM contact_numbers WHERE number_hash = ?", (number_hash,))
            counts = {k: counts[k] for k in ("consents", "revocations", "contacts", "dnc_company")}
            added = await rows.insert(
                conn,
                self.sealer,
                "suppressions",
                {"number_hash": number_hash, "reason": "erased", "created_at": ts(now)},
                on_conflict_ignore=True,
            )
            await audit.append(
                conn,
                self.sealer,
                "erasure",
                {"number_hash": number_hash, "by": operator, "removed": counts},
                now,
                added=[added],
                removed=removed,
            )
        return counts

    async def purge(self, operator: str) -> dict[str, int]:
        """C4: remove what is past retention, and nothing else.

        A consent goes 5 years after the later of when it was obtained and the
        last call that relied on it; a revocation or company DNC entry goes 5
        years after it was received, taking with it the consents it beat (those
        recorded or obtained before it, so purging a revocation can never revive
        an older consent). Every revoked number whose revocations go keeps a
        keyed-hash ``revoked`` suppression: a purged revocation still blocks.
        """
        now = self.clock()
        cutoff = ts(now - RETENTION)
        async with self.db.transaction() as conn:
            revoked = await rows.delete(
                conn,
                self.sealer,
                "consents",
                "EXISTS (SELECT 1 FROM revocations r WHERE r.number_hash = consents.number_hash "
                "AND r.received_at < ? AND (consents.obtained_at <= r.received_at "
                "OR consents.recorded_at <= r.recorded_at))",
                (cutoff,),
            )
            stale = await rows.delete(
                conn,
                self.sealer,
                "consents",
                "obtained_at < ?1 AND NOT EXISTS (SELECT 1 FROM attempts a "
                "WHERE a.number_hash = consents.number_hash AND a.allowed = 1 "
                "AND a.with_consent = 1 AND a.decided_at >= ?1)",
                (cutoff,),
            )
            async with conn.execute(
                "SELECT number_hash, MAX(recorded_at) FROM revocations WHERE received_at < ? "
                "GROUP BY number_hash",
                (cutoff,),
            ) as cursor:
                purged_numbers = [(str(r[0]), str(r[1])) async for r in cursor]
            revocations = await rows.delete(
                conn, self.sealer, "revocations", "received_at < ?", (cutoff,)
            )
            kept, replaced = await self._keep_revoked(conn, purged_numbers)
            dnc = await rows.delete(conn, self.sealer, "dnc_company", "added_at < ?", (cutoff,))
            counts = {
                "consents": len(revoked) + len(stale),
                "revocations": len(revocations),
                "dnc_company": len(dnc),
                "revoked_suppressions": len(kept),
            }
            await audit.append(
                conn,
                self.sealer,
                "purge",
                {"cutoff": cutoff, "removed": counts, "by": operator},
                now,
                added=kept,
                removed=[*revoked, *stale, *revocations, *dnc, *replaced],
            )
        return counts

    async def _keep_revoked(
        self, conn: aiosqlite.Connection, purged: list[tuple[str, str]]
    ) -> tuple[list[rows.BoundRow], list[rows.BoundRow]]:
        """C4: a ``revoked`` suppression for each number whose revocations a purge
        removes, dated when the latest of them was recorded (it blocks the same)."""
        added: list[rows.BoundRow] = []
        replaced: list[rows.BoundRow] = []
        for number_hash, recorded_at in purged:
            async with conn.execute(
                "SELECT created_at FROM suppressions WHERE number_hash = ? AND reason = ?",
                (number_hash, REVOKED_SUPPRESSION),
            ) as cursor:
                existing = await cursor.fetchone()
            if existing is not None and str(existing[0]) >= recorded_at:
                continue
            replaced += await rows.delete(
                conn,
                self.sealer,
                "suppressions",
                "number_hash = ? AND reason = ?",
                (number_hash, REVOKED_SUPPRESSION),
            )
            row = await rows.insert(
                conn,
                self.sealer,
                "suppressions",
                {
                    "number_hash": number_hash,
                    "reason": REVOKED_SUPPRESSION,
                    "created_at": recorded_at,
                },
            )
            if row is not None:
                added.append(row)
        return added, replaced

    # -- caller IDs (C14) ---------------------------------------------------------

    async def add_caller_id(self, number: str, label: str, operator: str) -> None:
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT added_at FROM caller_ids WHERE number_hash = ?", (number_hash,)
            ) as cursor:
                existing = await cursor.fetchone()
            # a new label for a listed number keeps its added_at (a row is replaced,
            # never edited: its MAC covers every column)
            replaced = await rows.delete(
                conn, self.sealer, "caller_ids", "number_hash = ?", (number_hash,)
            )
            added = await rows.insert(
                conn,
                self.sealer,
                "caller_ids",
                {
                    "number_hash": number_hash,
                    "number_sealed": self.sealer.seal_field(
                        number, CALLER_ID_NUMBER.table, CALLER_ID_NUMBER.column, number_hash
                    ),
                    "label": label,
                    "added_at": str(existing[0]) if existing else ts(now),
                },
            )
            await audit.append(
                conn,
                self.sealer,
                "caller-id-added",
                {"number_hash": number_hash, "label": label, "by": operator},
                now,
                added=[added],
                removed=replaced,
            )

    async def remove_caller_id(self, number: str, operator: str) -> None:
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            removed = await rows.delete(
                conn, self.sealer, "caller_ids", "number_hash = ?", (number_hash,)
            )
            if not removed:
                raise NotFoundError("that caller ID is not on the allowlist")
            await audit.append(
                conn,
                self.sealer,
                "caller-id-removed",
                {"number_hash": number_hash, "by": operator},
                now,
                removed=removed,
            )

    async def caller_ids(self) -> list[tuple[str, str, dt.datetime]]:
        found = await self.db.fetchall(
            "SELECT number_hash, number_sealed, label, added_at FROM caller_ids ORDER BY added_at"
        )
        return [
            (
                self.sealer.open_field(
                    r[1], CALLER_ID_NUMBER.table, CALLER_ID_NUMBER.column, str(r[0])
                ),
                str(r[2]),
                parse_ts(r[3]),
            )
            for r in found
        ]

    async def caller_id_allowed(self, number: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM caller_ids WHERE number_hash = ?", (self.sealer.index(number),)
        )
        return row is not None
