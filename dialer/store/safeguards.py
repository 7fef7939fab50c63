"""What "know before you send" reads and writes (issue 14): list fingerprints, approvals.

* A **list fingerprint** is a keyed hash (the store's blind-index key) over
  every contact of a list: external id, number hash, language and fields. It
  holds no personal data; the preflight compares the one taken when the
  campaign was created with today's to warn "the list changed".
* An **approval** is the second operator's go-ahead; written once per campaign
  with its audit entry in the same transaction (C19).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from dialer.consent.crypto import Sealer
from dialer.errors import InputError, NotFoundError
from dialer.model.safeguards import Approval, CampaignOrigin, ListFingerprint
from dialer.store import audit
from dialer.store.db import Clock, Database, parse_ts, ts
from dialer.store.sealed import CONTACT_FIELDS


class SafeguardStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    async def origin(self, name: str) -> CampaignOrigin:
        row = await self.db.fetchone(
            "SELECT id, created_at, created_by FROM campaigns WHERE name = ?", (name,)
        )
        if row is None:
            raise NotFoundError(f"no campaign named {name!r}")
        return CampaignOrigin(int(row[0]), parse_ts(str(row[1])), str(row[2]))

    # -- list fingerprints --------------------------------------------------------

    async def list_fingerprint(self, list_id: int) -> ListFingerprint:
        """The fingerprint of the list's published contents now (issue 11: stored
        with each version at import; a version loaded before that is read once).

        Worked out from the contents, not the ciphertext, so a re-import of the
        same data gives the same fingerprint."""
        row = await self.db.fetchone(
            "SELECT v.id, v.fingerprint, v.contacts FROM contact_lists l "
            "JOIN list_versions v ON v.id = l.version_id WHERE l.id = ?",
            (list_id,),
        )
        if row is None:
            return ListFingerprint(self.sealer.index(""), 0)
        if row[1] is None:
            return await self._fingerprint_by_reading(int(row[0]))
        return ListFingerprint(self.sealer.index(str(row[1])), int(row[2]))

    async def _fingerprint_by_reading(self, version_id: int) -> ListFingerprint:
        rows = await self.db.fetchall(
            "SELECT id, external_id, number_hash, language, fields_sealed FROM contacts "
            "WHERE version_id = ?",
            (version_id,),
        )
        return self.fingerprint_of(
            (
                str(external_id),
                str(number_hash),
                str(language),
                json.loads(
                    self.sealer.open_field(sealed, CONTACT_FIELDS.table, CONTACT_FIELDS.column, cid)
                )
                if isinstance(sealed, bytes)
                else {},
            )
            for cid, external_id, number_hash, language, sealed in rows
        )

    def fingerprint_of(
        self, rows: Iterable[tuple[str, str, str, Mapping[str, str]]]
    ) -> ListFingerprint:
        """The fingerprint of (external id, number hash, language, fields) rows, in any
        order: the same figure whether read from the table or from loaded contacts."""
        # sorted as SQLite's ORDER BY external_id, number_hash sorted them (UTF-8 byte
        # order is code point order), each line as the first version wrote it
        ordered = sorted(rows, key=lambda r: (r[0], r[1]))
        digest = hashlib.sha256()
        for external_id, number_hash, language, fields in ordered:
            canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False)
            digest.update(
                json.dumps([external_id, number_hash, language, canonical]).encode() + b"\n"
            )
        return ListFingerprint(self.sealer.index(digest.hexdigest()), len(ordered))

    async def record_fingerprint(self, campaign_id: int, fingerprint: ListFingerprint) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO campaign_list_fingerprints (campaign_id, fingerprint, contacts) "
                "VALUES (?, ?, ?) ON CONFLICT (campaign_id) DO NOTHING",
                (campaign_id, fingerprint.fingerprint, fingerprint.contacts),
            )

    async def fingerprint_at_creation(self, campaign_id: int) -> ListFingerprint | None:
        row = await self.db.fetchone(
            "SELECT fingerprint, contacts FROM campaign_list_fingerprints WHERE campaign_id = ?",
            (campaign_id,),
        )
        return ListFingerprint(str(row[0]), int(row[1])) if row else None

    async def stored_numbers(self) -> int:
        """Distinct numbers over every contact list (the preflight's 90% warning)."""
        # the number index is in number order: counted without sorting (issue 11)
        row = await self.db.fetchone("SELECT COUNT(DISTINCT number_hash) FROM contact_numbers")
        return int(row[0]) if row else 0

    # -- approvals ----------------------------------------------------------------

    async def approval(self, campaign_id: int) -> Approval | None:
        row = await self.db.fetchone(
            "SELECT approved_by, approved_at FROM campaign_approvals WHERE campaign_id = ?",
            (campaign_id,),
        )
        return Approval(str(row[0]), parse_ts(str(row[1]))) if row else None

    async def approve(self, name: str, operator: str, *, required: bool, mode: str) -> Approval:
        """Record the second operator's approval (audited); the caller checked who may."""
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT c.id, a.approved_by FROM campaigns c LEFT JOIN campaign_approvals a "
                "ON a.campaign_id = c.id WHERE c.name = ?",
                (name,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise NotFoundError(f"no campaign named {name!r}")
            if row[1] is not None:
                raise InputError(f"campaign {name!r} is already approved by {row[1]!r}")
            await conn.execute(
                "INSERT INTO campaign_approvals (campaign_id, approved_by, approved_at) "
                "VALUES (?, ?, ?)",
                (int(row[0]), operator, ts(now)),
            )
            await audit.append(
                conn,
                self.sealer,
                "campaign-approved",
                {"campaign": name, "by": operator, "required": required, "setting": mode},
                now,
            )
        return Approval(operator, now)
