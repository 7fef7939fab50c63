"""The gate's view of a number (C2): everything ``gate.decide`` needs, read right
before the attempt in one indexed query.

A consent is honoured only when its row MAC verifies (C19): a row inserted or
edited without the key never lets a call through. Revocations, DNC entries and
suppressions count whatever their MAC (they only ever block; the start-up check
and ``audit verify`` find their tampering). A ``revoked`` suppression, left by
a purge of an old revocation (C4), blocks like the revocation it replaces.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import structlog

from dialer.consent.crypto import Sealer
from dialer.consent.model import CallFact, ConsentFact, NumberFacts, Purpose
from dialer.errors import StoreError
from dialer.store.db import Clock, Database, parse_ts, ts

log = structlog.get_logger("dialer.store")

#: how far back call history matters to the gate (longest cap window, C13)
HISTORY_WINDOW = dt.timedelta(days=31)
#: suppression reason a purge leaves for a revocation it removed (C4)
REVOKED_SUPPRESSION = "revoked"


def consent_gate_mac(
    sealer: Sealer,
    consent_id: int,
    number_hash: str,
    scope: str,
    obtained_at: str,
    written: int,
    recorded_at: str,
) -> str:
    """The MAC the gate checks before it honours a consent (C19): over the row's id,
    number and every field the decision reads (fixed-format values: no separator
    can be smuggled in). The row's full MAC (``rows``) covers it too."""
    text = f"consents-gate|{consent_id}|{number_hash}|{scope}|{obtained_at}|{written}|{recorded_at}"
    return sealer.row_mac(text.encode())


#: one SELECT per fact source; ``{match}`` picks the numbers (rows: kind,
#: number_hash, a, b, c, d, e, f). Every branch is served by a covering index.
_FACTS_SQL = (
    "SELECT 'c', number_hash, scope, obtained_at, written, recorded_at, id, gate_mac "
    "FROM consents WHERE number_hash {match} "
    # a consent export being staged is not read until it is published whole (issue 11)
    "AND (batch_id IS NULL OR batch_id NOT IN "
    "(SELECT batch_id FROM consent_batches WHERE state != 'published')) "
    "UNION ALL SELECT 'r', number_hash, NULL, MAX(received_at), NULL, MAX(recorded_at), "
    "NULL, NULL FROM revocations WHERE number_hash {match} GROUP BY number_hash "
    "UNION ALL SELECT 'd', number_hash, NULL, NULL, NULL, NULL, NULL, NULL FROM dnc_company "
    "WHERE number_hash {match} "
    "UNION ALL SELECT 'n', number_hash, NULL, NULL, NULL, NULL, NULL, NULL FROM dnc_national "
    "WHERE number_hash {match} "
    "UNION ALL SELECT 's', number_hash, reason, created_at, NULL, NULL, NULL, NULL "
    "FROM suppressions WHERE number_hash {match} "
    "UNION ALL SELECT 'a', number_hash, purpose, decided_at, with_consent, NULL, NULL, NULL "
    "FROM attempts WHERE number_hash {match} AND decided_at >= ?2 AND allowed = 1"
)
_FACTS_ONE = _FACTS_SQL.format(match="= ?1")
# one JSON array parameter: the same statement text (prepared once) for any batch size
_FACTS_MANY = _FACTS_SQL.format(match="IN (SELECT value FROM json_each(?1))")
_BATCH = 2000
_PURPOSES = {p.value: p for p in Purpose}


#: number hash -> latest received-at (store text) of revocations waiting in the journal
PendingRevocations = Callable[[], Mapping[str, str]]


class FactsReader:
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
        self._pending = pending_revocations
        self._since_now: dt.datetime | None = None
        self._since_text = ""

    async def _statements(self) -> tuple[str, str]:
        return _FACTS_ONE, _FACTS_MANY

    def _since(self) -> str:
        """Start of the call history the gate needs (C13), as stored text."""
        now = self.clock()
        if now != self._since_now:  # formatting costs more than this comparison
            self._since_now, self._since_text = now, ts(now - HISTORY_WINDOW)
        return self._since_text

    async def facts_for(self, number: str) -> NumberFacts:
        """What the gate needs about one number, read right before the attempt (C2).

        One indexed query on the event loop's own read connection
        (``Database.quick_read``), so the runner can call it before every single
        attempt and still decide > 20,000 times a second.
        """
        one, _ = await self._statements()
        number_hash = self.sealer.index(number)
        found = await self.db.quick_read(one, (number_hash, self._since()))
        facts = facts_from(self.sealer, found)
        if self._pending is not None:
            facts = self._with_pending(facts, self._pending().get(number_hash))
        return facts

    async def facts_for_many(self, numbers: Sequence[str]) -> dict[str, NumberFacts]:
        """Everything the gate needs about these numbers, one round trip per 2,000."""
        _, many = await self._statements()
        by_hash = {self.sealer.index(n): n for n in numbers}
        since = self._since()
        hashes = sorted(by_hash)  # index order: neighbouring B-tree pages
        grouped: dict[str, list[Any]] = {h: [] for h in hashes}
        for start in range(0, len(hashes), _BATCH):
            chunk = json.dumps(hashes[start : start + _BATCH])
            try:
                found = await self.db.conn.execute_fetchall(many, (chunk, since))
            except sqlite3.Error as exc:
                raise StoreError(f"database query failed: {exc}") from exc
            for row in found:
                grouped[row[1]].append(row)
        pending = self._pending() if self._pending is not None else {}
        return {
            by_hash[h]: self._with_pending(facts_from(self.sealer, found), pending.get(h))
            for h, found in grouped.items()
        }

    def _with_pending(self, facts: NumberFacts, pending_received: str | None) -> NumberFacts:
        """A journaled revocation blocks like a stored one (C6), until it is replayed.
        Not recorded yet, it beats every consent recorded so far."""
        if pending_received is None:
            return facts
        received = parse_ts(pending_received)
        return replace(
            facts,
            revoked_at=_later(facts.revoked_at, received),
            revocation_recorded_at=_later(facts.revocation_recorded_at, self.clock()),
        )


def _later(a: dt.datetime | None, b: dt.datetime) -> dt.datetime:
    return b if a is None or b > a else a


def facts_from(sealer: Sealer, found: Iterable[Any]) -> NumberFacts:
    consents: list[ConsentFact] = []
    calls: list[CallFact] = []
    revoked_at: dt.datetime | None = None
    revocation_recorded_at: dt.datetime | None = None
    company = national = erased = wrong_party = False
    unverified = 0
    for kind, number_hash, a, b, c, d, e, f in found:
        if kind == "c":
            expected = consent_gate_mac(sealer, e, number_hash, a, b, c, d)
            if f is None or not hmac.compare_digest(expected, str(f)):
                # C19: a consent the dialer did not write (or that was edited) is not honoured
                unverified += 1
                log.warning("consent row fails its MAC; not honoured", number_hash=number_hash[:12])
                continue
            consents.append(ConsentFact(_PURPOSES[a], parse_ts(b), bool(c), parse_ts(d)))
        elif kind == "a":
            calls.append(CallFact(parse_ts(b), _PURPOSES[a], bool(c)))
        elif kind == "r":
            revoked_at = _later(revoked_at, parse_ts(b))
            revocation_recorded_at = _later(revocation_recorded_at, parse_ts(d))
        elif kind == "d":
            company = True
        elif kind == "n":
            national = True
        elif a == "erased":
            erased = True
        elif a == "wrong-party":
            wrong_party = True
        elif a == REVOKED_SUPPRESSION:
            # C4: a purged revocation; its time is the one it was recorded at
            revoked_at = _later(revoked_at, parse_ts(b))
            revocation_recorded_at = _later(revocation_recorded_at, parse_ts(b))
    return NumberFacts(
        consents=tuple(consents),
        revoked_at=revoked_at,
        revocation_recorded_at=revocation_recorded_at,
        company_dnc=company,
        national_dnc=national,
        erased=erased,
        wrong_party=wrong_party,
        recent_calls=tuple(calls),
        unverified_consents=unverified,
    )
