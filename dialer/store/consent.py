"""Consent and revocation (C3, C5-C7), and the gate's view of a number (C2).

Everything is looked up by the keyed hash of the E.164 number (C18). Every
change appends its audit entry in the same transaction (C19), naming the row
it added with the row's MAC (``dialer.store.rows``). The lists that block a
number (DNC, suppressions, caller IDs, erasure, purge) are in ``lists``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

import aiosqlite

from dialer.consent.crypto import Sealer
from dialer.consent.model import NumberFacts, RevocationChannel
from dialer.errors import StoreError
from dialer.model.consents import ATTESTED, ConsentInput, HotlineReview, RevocationResult
from dialer.store import audit, rows
from dialer.store.campaigns import mark_digit
from dialer.store.db import Clock, Database, parse_ts, ts
from dialer.store.facts import (
    HISTORY_WINDOW,
    FactsReader,
    PendingRevocations,
    consent_gate_mac,
)
from dialer.store.journal import JournalEntry
from dialer.store.lists import RETENTION, ListStore
from dialer.store.sealed import CONSENT_CONTACT, CONTACT_NUMBER

__all__ = ["HISTORY_WINDOW", "RETENTION", "STAGE_ROWS", "ConsentStore", "PendingRevocations"]

#: consent rows per staged chunk: one short transaction each (issue 11 item 4)
STAGE_ROWS = 1000


class ConsentStore(ListStore):
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        clock: Clock,
        pending_revocations: PendingRevocations | None = None,
    ) -> None:
        super().__init__(db, sealer, clock)
        #: revocations still waiting in the journal (number hash -> received-at
        #: text); the gate honours them like stored ones (C6)
        self.facts = FactsReader(db, sealer, clock, pending_revocations)

    # -- consent (C3) -------------------------------------------------------

    async def add_consent(self, record: ConsentInput, recorded_by: str) -> int:
        async with self.db.transaction() as conn:
            return await self.insert_consent(conn, record, recorded_by, batch_id=None)

    async def import_batch(
        self, records: Sequence[ConsentInput], recorded_by: str, batch_id: str
    ) -> int:
        """A set of consents as one batch: all rows or none (C3, C19).

        Every record is validated first; then the rows are staged in short
        transactions (``stage``: issue 11, a revocation never waits long) under a
        batch the gate does not read, and published at once (``publish_batch``).
        A failure on the way deletes what was staged (``discard_batch``). Files go
        through ``dialer.imports.consents``, which streams into the same steps.
        """
        now = self.clock()
        for record in records:
            record.validate(now)
        await self.begin_batch(batch_id, batch_id, recorded_by)
        try:
            for start in range(0, len(records), STAGE_ROWS):
                await self.stage(batch_id, records[start : start + STAGE_ROWS], recorded_by)
            await self.publish_batch(batch_id, len(records), recorded_by)
        except BaseException:
            await asyncio.shield(self.discard_batch(batch_id))
            raise
        return len(records)

    # -- staged consent batches (issue 11) ---------------------------------------

    async def begin_batch(self, batch_id: str, source_name: str, recorded_by: str) -> None:
        """Open a batch: its rows stay invisible to the gate until it is published."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO consent_batches (batch_id, state, source_name, loader_pid, "
                "started_at, recorded_by) VALUES (?, 'loading', ?, ?, ?, ?)",
                (batch_id, source_name, os.getpid(), ts(self.clock()), recorded_by),
            )

    async def stage(self, batch_id: str, records: Sequence[ConsentInput], recorded_by: str) -> None:
        """One short transaction: a chunk of validated records, MAC'd rows and their
        audit entries (C19), under the batch (not yet read by the gate)."""
        now = self.clock()
        # keyed hashes, encryption and MACs before BEGIN, for the ids the rows will
        # most likely get: the write lock is held only for the inserts
        now_text = ts(now)
        cols = await rows.columns(self.db.conn, "consents")
        first_id = await self._next_id(self.db.conn)
        values, prepared = self._prepare(records, first_id, recorded_by, batch_id, now_text, cols)
        async with self.db.transaction() as conn:
            actual = await self._next_id(conn)
            if actual != first_id:  # someone added a consent meanwhile: ids moved
                values, prepared = self._prepare(
                    records, actual, recorded_by, batch_id, now_text, cols
                )
            after = await audit.head(conn, self.sealer)
            # the aiosqlite thread inserts the rows while this thread chains their
            # audit entries (sqlite releases the GIL while it writes)
            insert = asyncio.ensure_future(rows.write_prepared(conn, self.sealer, prepared))
            await asyncio.sleep(0)  # let the task queue the insert before we compute
            try:
                entries = audit.chain(
                    self.sealer,
                    [
                        ("consent", _consent_payload(row, bound, recorded_by))
                        for row, bound in zip(values, prepared.bound, strict=True)
                    ],
                    now,
                    after,
                )
            finally:
                await insert  # also on error: never roll back under a running insert
            await audit.write_chained(conn, self.sealer, entries)

    async def publish_batch(self, batch_id: str, count: int, recorded_by: str) -> None:
        """The gate sees the whole batch from this commit on (one short transaction)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE consent_batches SET state = 'published', rows = ?, published_at = ?, "
                "loader_pid = NULL WHERE batch_id = ? AND state = 'loading'",
                (count, ts(now), batch_id),
            )
            if cursor.rowcount != 1:
                raise StoreError(f"consent batch {batch_id} is not being loaded")
            await audit.append(
                conn,
                self.sealer,
                "consent-batch-published",
                {"batch": batch_id, "rows": count, "by": recorded_by},
                now,
            )

    async def discard_batch(self, batch_id: str) -> int:
        """Delete an unpublished batch's rows in short transactions, each audited with
        the rows it removed (C19)."""
        removed = 0
        while True:
            async with self.db.transaction() as conn:
                gone = await rows.delete(
                    conn,
                    self.sealer,
                    "consents",
                    "id IN (SELECT id FROM consents WHERE batch_id = ? ORDER BY id LIMIT ?)",
                    (batch_id, STAGE_ROWS),
                )
                if gone:
                    await audit.append(
                        conn,
                        self.sealer,
                        "consent-batch-discarded",
                        {"batch": batch_id, "rows": len(gone)},
                        self.clock(),
                        removed=gone,
                    )
            removed += len(gone)
            if len(gone) < STAGE_ROWS:
                break
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM consent_batches WHERE batch_id = ? AND state = 'loading'",
                (batch_id,),
            )
        return removed

    async def stale_batches(self) -> list[str]:
        """Batches left 'loading' by an import whose process is gone."""
        found = await self.db.fetchall(
            "SELECT batch_id, loader_pid FROM consent_batches WHERE state = 'loading'"
        )
        return [str(r[0]) for r in found if not _alive(r[1])]

    @staticmethod
    async def _next_id(conn: aiosqlite.Connection) -> int:
        async with conn.execute("SELECT COALESCE(MAX(id), 0) FROM consents") as cur:
            row = await cur.fetchone()
        return int(row[0]) + 1 if row else 1

    def _values(
        self,
        record: ConsentInput,
        consent_id: int,
        recorded_by: str,
        batch_id: str | None,
        now_text: str,
    ) -> dict[str, Any]:
        number_hash = self.sealer.index(record.number)
        obtained = ts(record.obtained_at)
        return {
            "id": consent_id,
            "number_hash": number_hash,
            "contact_sealed": (
                self.sealer.seal_field(
                    record.contact_ref, CONSENT_CONTACT.table, CONSENT_CONTACT.column, consent_id
                )
                if record.contact_ref
                else None
            ),
            "scope": record.scope.value,
            "source": record.source.value,
            "method": record.method,
            "obtained_at": obtained,
            "disclosure_sha256": record.disclosure_sha256(),
            "evidence_ref": record.evidence_ref,
            "signature_ref": record.signature_ref or None,
            "written": int(record.written),
            "batch_id": batch_id,
            "recorded_at": now_text,
            "recorded_by": recorded_by,
            "gate_mac": consent_gate_mac(
                self.sealer,
                consent_id,
                number_hash,
                record.scope.value,
                obtained,
                int(record.written),
                now_text,
            ),
        }

    def _prepare(
        self,
        records: Sequence[ConsentInput],
        first_id: int,
        recorded_by: str,
        batch_id: str | None,
        now_text: str,
        cols: Sequence[str],
    ) -> tuple[list[dict[str, Any]], rows.Prepared]:
        values = [
            self._values(r, first_id + i, recorded_by, batch_id, now_text)
            for i, r in enumerate(records)
        ]
        return values, rows.prepare(self.sealer, "consents", cols, values)

    async def insert_consent(
        self,
        conn: aiosqlite.Connection,
        record: ConsentInput,
        recorded_by: str,
        batch_id: str | None,
    ) -> int:
        now = self.clock()
        record.validate(now)
        consent_id = await self._next_id(conn)
        values = self._values(record, consent_id, recorded_by, batch_id, ts(now))
        added = await rows.insert(conn, self.sealer, "consents", values)
        assert added is not None
        await audit.append(
            conn, self.sealer, "consent", _consent_payload(values, added, recorded_by), now
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
        attestation: str | None = None,
    ) -> RevocationResult:
        """Write one revocation to the store, committed before this returns (C5).

        Channels do not call this directly: they call
        :meth:`dialer.store.store.Store.revoke_durably`, which retries and falls
        back to the journal when the store stays unavailable. The gate reads
        revocations right before every attempt, so it takes effect for the next
        attempt of every campaign (C6), whatever purpose (C7). The transaction
        commits with ``synchronous = FULL`` (a confirmation may play right after).
        ``wait_s`` bounds the wait for the write lock (StoreError after it).
        A revocation received earlier than it is recorded (an SMS export
        imported later) keeps its received time for the record, and still beats
        every consent recorded before it (``gate.lifts_revocation``).
        """
        now = self.clock()
        received = received_at or now
        number_hash = self.sealer.index(number)
        async with self.db.transaction(durable=True, wait_s=wait_s, urgent=True) as conn:
            revocation_id = await self._insert_revocation(
                conn,
                number_hash,
                channel.value,
                received_text=ts(received),
                now=now,
                source_ref=source_ref,
                recorded_by=recorded_by,
                attestation=attestation,
            )
        return RevocationResult(revocation_id, number_hash, received, now)

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
        attestation: str | None = None,
    ) -> int:
        async with conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM revocations") as cur:
            found = await cur.fetchone()
        revocation_id = int(found[0]) if found else 1
        added = await rows.insert(
            conn,
            self.sealer,
            "revocations",
            {
                "id": revocation_id,
                "number_hash": number_hash,
                "channel": channel,
                "received_at": received_text,
                "recorded_at": ts(now),
                "source_ref": source_ref or None,
                "recorded_by": recorded_by,
                # hotline: how far the trunk vouched for the caller ID (issue 8 item 7)
                "attestation": attestation,
            },
        )
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
        if attestation is not None:
            details["attestation"] = attestation
        await audit.append(conn, self.sealer, "revocation", details, now, added=[added])
        if channel == RevocationChannel.KEYPAD.value and source_ref:
            # issue 13: the call's "9 pressed" mark commits with its revocation
            await mark_digit(conn, source_ref, "9")
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
        async with self.db.transaction(durable=True, wait_s=wait_s, urgent=True) as conn:
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
                    attestation=entry.attestation or None,
                )
                added += 1
        return added

    async def hotline_to_review(self, since: dt.datetime) -> list[HotlineReview]:
        """Hotline revocations since ``since`` whose caller ID was not fully
        attested (issue 8 item 7), with the contact that has the number, if any."""
        found = await self.db.fetchall(
            "SELECT r.id, r.received_at, COALESCE(r.attestation, ''), "
            "COALESCE(r.source_ref, ''), c.id, c.number_sealed, c.external_id, l.name "
            "FROM revocations r "
            # the newest contact with the number (its number index, issue 11)
            "LEFT JOIN contacts c ON c.id = "
            "(SELECT MAX(contact_id) FROM contact_numbers WHERE number_hash = r.number_hash) "
            "LEFT JOIN list_versions v ON v.id = c.version_id "
            "LEFT JOIN contact_lists l ON l.id = v.list_id "
            "WHERE r.channel = ? AND (r.attestation IS NULL OR r.attestation != ?) "
            "AND r.received_at >= ? ORDER BY r.received_at",
            (RevocationChannel.HOTLINE.value, ATTESTED, ts(since)),
        )
        return [
            HotlineReview(
                revocation_id=int(r[0]),
                received_at=parse_ts(r[1]),
                attestation=str(r[2]),
                source_ref=str(r[3]),
                number=(
                    self.sealer.open_field(
                        r[5], CONTACT_NUMBER.table, CONTACT_NUMBER.column, int(r[4])
                    )
                    if r[4] is not None
                    else None
                ),
                contact=str(r[6] or ""),
                list_name=str(r[7] or ""),
            )
            for r in found
        ]

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
        found = await self.db.fetchall("SELECT channel, COUNT(*) FROM revocations GROUP BY channel")
        return {str(r[0]): int(r[1]) for r in found}

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

    # -- the gate's view (C2) -----------------------------------------------------

    async def facts_for(self, number: str) -> NumberFacts:
        """What the gate needs about one number, read right before the attempt (C2)."""
        return await self.facts.facts_for(number)

    async def facts_for_many(self, numbers: Sequence[str]) -> dict[str, NumberFacts]:
        return await self.facts.facts_for_many(numbers)


def _consent_payload(
    values: dict[str, Any], bound: rows.BoundRow, recorded_by: str
) -> dict[str, Any]:
    """The audit entry of one consent (C3, C19): what it is, and its row."""
    return {
        "consent_id": values["id"],
        "number_hash": values["number_hash"],
        "scope": values["scope"],
        "source": values["source"],
        "written": bool(values["written"]),
        "obtained_at": values["obtained_at"],
        # C3: False when staff recorded it with --no-contact (the record names nobody)
        "contact": values["contact_sealed"] is not None,
        "batch": values["batch_id"],
        "by": recorded_by,
        rows.BOUND_ROWS: {"+": [[bound.table, bound.key, bound.mac]]},
    }


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
