"""A number's full history for ``dialer consent show`` (staff view, number masked)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialer.consent.crypto import Sealer
from dialer.masking import mask_number
from dialer.store.consent import ConsentStore
from dialer.store.db import Database, ts


class HistoryStore:
    """Everything stored about one number, for staff (``store.history``)."""

    def __init__(self, db: Database, sealer: Sealer, consent: ConsentStore) -> None:
        self.db = db
        self.sealer = sealer
        self.consent = consent

    async def number_history(self, number: str) -> dict[str, Any]:
        return await _number_history(self, number)

    async def revocations_by_channel(self, since: dt.datetime) -> dict[str, int]:
        """Opt-outs received since ``since``, per channel (keypad, hotline, sms, web ...)."""
        rows = await self.db.fetchall(
            "SELECT channel, COUNT(*) FROM revocations WHERE received_at >= ? GROUP BY channel "
            "ORDER BY COUNT(*) DESC",
            (ts(since),),
        )
        return {str(r[0]): int(r[1]) for r in rows}


async def _number_history(store: HistoryStore, number: str) -> dict[str, Any]:
    number_hash = store.sealer.index(number)
    db = store.db
    consents = await db.fetchall(
        "SELECT id, scope, source, method, obtained_at, evidence_ref, written, signature_ref, "
        "disclosure_sha256, recorded_at, recorded_by, contact_sealed IS NOT NULL "
        "FROM consents WHERE number_hash = ? "
        "ORDER BY obtained_at",
        (number_hash,),
    )
    revocations = await db.fetchall(
        "SELECT id, channel, received_at, recorded_at, source_ref, recorded_by FROM revocations "
        "WHERE number_hash = ? ORDER BY received_at",
        (number_hash,),
    )
    attempts = await db.fetchall(
        "SELECT a.id, c.name, a.decided_at, a.reason, a.outcome, a.hangup_cause FROM attempts a "
        "JOIN campaigns c ON c.id = a.campaign_id WHERE a.number_hash = ? ORDER BY a.decided_at",
        (number_hash,),
    )
    facts = await store.consent.facts_for(number)
    status = (
        "erased"
        if facts.erased
        else "wrong-party (review)"
        if facts.wrong_party
        else "revoked"
        if facts.revoked_at and not any(c.obtained_at > facts.revoked_at for c in facts.consents)
        else "consented"
        if facts.consents
        else "no consent"
    )
    return {
        "number": mask_number(number),
        "status": status,
        "consents": [
            {
                "id": r[0],
                "scope": r[1],
                "source": r[2],
                "method": r[3],
                "obtained_at": r[4],
                "evidence": r[5],
                "written": bool(r[6]),
                "signature": r[7] or "",
                "disclosure_sha256": r[8][:12] + "…",
                "recorded_at": r[9],
                "by": r[10],
                # C3: a record that names nobody was accepted only with --no-contact
                "contact": "recorded" if r[11] else "none (--no-contact)",
            }
            for r in consents
        ],
        "revocations": [
            {
                "id": r[0],
                "channel": r[1],
                "received_at": r[2],
                "recorded_at": r[3],
                "source": r[4] or "",
                "by": r[5],
            }
            for r in revocations
        ],
        "attempts": [
            {
                "call_id": r[0],
                "campaign": r[1],
                "at": r[2],
                "gate": r[3],
                "outcome": r[4] or "",
                "cause": r[5] if r[5] is not None else "",
            }
            for r in attempts
        ],
        "company_dnc": facts.company_dnc,
        "national_dnc": facts.national_dnc,
        "erased": facts.erased,
        "wrong_party": facts.wrong_party,
    }
