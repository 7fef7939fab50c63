"""Read-only queries the C20 compliance report runs (``store.evidence``).

The store is the only code that runs SQL (DESIGN.md, layers): the report
(``dialer.compliance_report``) asks for rows here and recomputes its figures
from them. Look-ups by number go by keyed hash, in chunks, so a period with a
million attempts never builds one giant statement.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dialer.consent.crypto import Sealer
from dialer.consent.model import Purpose
from dialer.model.evidence import (
    AttemptRecord,
    CallRecord,
    CampaignRecord,
    ConsentRecord,
    LogEvent,
    NationalDncImport,
    Period,
    RevocationRecord,
)
from dialer.store import gate_record
from dialer.store.db import Database, parse_ts, ts
from dialer.store.sealed import CALLER_ID_NUMBER, CONTACT_NUMBER

_CHUNK = 500


def _where(period: Period, column: str) -> tuple[str, list[str]]:
    clauses, params = ["1 = 1"], []
    if period.since is not None:
        clauses.append(f"{column} >= ?")
        params.append(ts(period.since))
    if period.until is not None:
        clauses.append(f"{column} < ?")
        params.append(ts(period.until))
    return " AND ".join(clauses), params


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _revocation(r: Any) -> RevocationRecord:
    return RevocationRecord(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        parse_ts(r[3]),
        parse_ts(r[4]),
        str(r[5] or ""),
        None if len(r) < 7 or r[6] is None else str(r[6]),
    )


class EvidenceStore:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def _by_hash(self, sql: str, keys: Iterable[str]) -> dict[str, list[Any]]:
        """Rows of ``sql`` (first column the key, filtered by ``IN ({})``), grouped."""
        out: dict[str, list[Any]] = defaultdict(list)
        for chunk in _chunks(sorted(set(keys))):
            marks = ",".join("?" * len(chunk))
            for row in await self.db.fetchall(sql.format(marks), chunk):
                out[str(row[0])].append(tuple(row))
        return out

    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.db.fetchone(sql, params)
        return row[0] if row else None

    # -- campaigns and attempts ---------------------------------------------------

    async def campaigns(self) -> dict[int, CampaignRecord]:
        rows = await self.db.fetchall(
            "SELECT id, purpose, window_start, window_end, residential_exemption, category, "
            "authorized_by, caller_id_hash FROM campaigns"
        )
        return {
            int(r[0]): CampaignRecord(
                Purpose(r[1]),
                (dt.time.fromisoformat(r[2]), dt.time.fromisoformat(r[3])),
                bool(r[4]),
                bool(r[5]) and bool((r[6] or "").strip()),
                str(r[7]),
            )
            for r in rows
        }

    async def campaign_names(self) -> list[tuple[int, str]]:
        found = await self.db.fetchall("SELECT id, name FROM campaigns")
        return [(int(r[0]), str(r[1])) for r in found]

    async def attempts(self, period: Period) -> list[AttemptRecord]:
        where, params = _where(period, "decided_at")
        rows = await self.db.fetchall(
            "SELECT id, campaign_id, contact_id, number_hash, purpose, decided_at, allowed, "
            "reason, with_consent, state, outcome, answered_at, digits, gate_facts, gate_mac "
            f"FROM attempts WHERE {where} ORDER BY decided_at",
            params,
        )
        return [self._attempt(r) for r in rows]

    def _attempt(self, r: Any) -> AttemptRecord:
        facts, facts_ok = gate_record.read(
            self.sealer,
            {
                "id": r[0],
                "campaign_id": r[1],
                "number_hash": r[3],
                "purpose": r[4],
                "decided_at": r[5],
                "allowed": r[6],
                "reason": r[7],
                "with_consent": r[8],
                "gate_facts": r[13],
            },
            r[14],
        )
        return AttemptRecord(
            str(r[0]),
            int(r[1]),
            int(r[2]),
            str(r[3]),
            Purpose(r[4]),
            parse_ts(r[5]),
            bool(r[6]),
            str(r[7]),
            bool(r[8]),
            str(r[9]),
            str(r[10] or ""),
            r[11] is not None,
            str(r[12] or ""),
            facts,
            facts_ok,
        )

    async def calls_to(
        self, hashes: Iterable[str], *, since: dt.datetime | None = None, allowed_only: bool = False
    ) -> dict[str, list[CallRecord]]:
        """Attempts to these numbers (any campaign), oldest first."""
        extra = " AND allowed = 1" if allowed_only else ""
        if since is not None:
            extra += f" AND decided_at >= '{ts(since)}'"
        rows = await self._by_hash(
            "SELECT number_hash, id, decided_at, allowed, reason, purpose, with_consent "
            f"FROM attempts WHERE number_hash IN ({{}}){extra} ORDER BY decided_at",
            hashes,
        )
        return {
            h: [
                CallRecord(
                    str(r[1]), parse_ts(r[2]), bool(r[3]), str(r[4]), Purpose(r[5]), bool(r[6])
                )
                for r in found
            ]
            for h, found in rows.items()
        }

    # -- consent and revocation ---------------------------------------------------------

    async def revocations(self, period: Period) -> list[RevocationRecord]:
        where, params = _where(period, "received_at")
        rows = await self.db.fetchall(
            "SELECT id, number_hash, channel, received_at, recorded_at, source_ref, attestation "
            f"FROM revocations WHERE {where} ORDER BY received_at",
            params,
        )
        return [_revocation(r) for r in rows]

    async def revocations_of(self, hashes: Iterable[str]) -> dict[str, list[RevocationRecord]]:
        rows = await self._by_hash(
            "SELECT number_hash, id, number_hash, channel, received_at, recorded_at, source_ref "
            "FROM revocations WHERE number_hash IN ({})",
            hashes,
        )
        return {h: [_revocation(r[1:]) for r in found] for h, found in rows.items()}

    async def consents_of(self, hashes: Iterable[str]) -> dict[str, list[ConsentRecord]]:
        rows = await self._by_hash(
            "SELECT number_hash, scope, written, obtained_at, recorded_at FROM consents "
            "WHERE number_hash IN ({})",
            hashes,
        )
        return {
            h: [ConsentRecord(str(r[1]), bool(r[2]), parse_ts(r[3]), parse_ts(r[4])) for r in found]
            for h, found in rows.items()
        }

    async def consent_sources(self, period: Period) -> Counter[str]:
        where, params = _where(period, "recorded_at")
        rows = await self.db.fetchall(
            f"SELECT source, COUNT(*) FROM consents WHERE {where} GROUP BY source", params
        )
        return Counter({str(r[0]): int(r[1]) for r in rows})

    async def consents_without_contact(self, period: Period) -> int:
        """C3: consents recorded (with --no-contact) that name no contact."""
        where, params = _where(period, "recorded_at")
        return int(
            await self._scalar(
                f"SELECT COUNT(*) FROM consents WHERE {where} AND contact_sealed IS NULL", params
            )
            or 0
        )

    async def incomplete_consents(self) -> int:
        """C3: rows that lack provenance (the store refuses them; this finds edits)."""
        return int(
            await self._scalar(
                "SELECT COUNT(*) FROM consents WHERE TRIM(method) = '' OR TRIM(evidence_ref) = '' "
                "OR LENGTH(disclosure_sha256) != 64 "
                "OR (written = 1 AND COALESCE(signature_ref, '') = '') "
                "OR (scope = 'telemarketing' AND written = 0)"
            )
            or 0
        )

    async def oldest_consent_obtained_at(self) -> str | None:
        value = await self._scalar("SELECT MIN(obtained_at) FROM consents")
        return str(value) if value is not None else None

    async def keypad_revocation_refs(self, call_ids: Iterable[str]) -> set[str]:
        """Which of these calls have a keypad revocation named after them (C10)."""
        rows = await self._by_hash(
            "SELECT source_ref FROM revocations WHERE channel = 'keypad' AND source_ref IN ({})",
            call_ids,
        )
        return set(rows)

    # -- lists, suppressions, overrides, caller IDs ------------------------------------

    async def erased_hashes(self) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT number_hash FROM suppressions WHERE reason = 'erased'"
        )
        return {str(r[0]) for r in rows}

    async def wrong_party_suppressions(self) -> int:
        return int(
            await self._scalar("SELECT COUNT(*) FROM suppressions WHERE reason = 'wrong-party'")
            or 0
        )

    async def contacts_for_review(self) -> int:
        return int(await self._scalar("SELECT COUNT(*) FROM contacts WHERE needs_review = 1") or 0)

    async def company_dnc_entries(self) -> int:
        return int(await self._scalar("SELECT COUNT(*) FROM dnc_company") or 0)

    async def overrides(self) -> int:
        return int(await self._scalar("SELECT COUNT(*) FROM campaign_overrides") or 0)

    async def allowlisted_caller_hashes(self) -> set[str]:
        return {str(r[0]) for r in await self.db.fetchall("SELECT number_hash FROM caller_ids")}

    async def national_dnc_imports(self) -> list[NationalDncImport]:
        """Every national DNC import, oldest first (C15)."""
        rows = await self.db.fetchall(
            "SELECT as_of, imported_at, entries FROM dnc_national_imports ORDER BY id"
        )
        return [
            NationalDncImport(dt.date.fromisoformat(r[0]), parse_ts(r[1]), int(r[2])) for r in rows
        ]

    # -- the audit log ------------------------------------------------------------------

    async def history_of(self, hashes: Iterable[str]) -> dict[str, list[LogEvent]]:
        """Every audited change to these numbers, oldest first: consents, revocations,
        erasures, wrong-party marks, DNC entries. The log outlives the rows (erasure,
        purge), so a call can be re-checked against what the store knew at the time."""
        wanted = json.dumps(sorted(set(hashes)))
        rows = await self.db.fetchall(
            "SELECT seq, at, kind, payload, json_extract(payload, '$.number_hash') FROM audit "
            "WHERE kind IN ('consent', 'revocation', 'erasure', 'wrong-party', "
            "'wrong-party-cleared', 'dnc-company') "
            "AND json_extract(payload, '$.number_hash') IN (SELECT value FROM json_each(?)) "
            "ORDER BY seq",
            (wanted,),
        )
        out: dict[str, list[LogEvent]] = defaultdict(list)
        for r in rows:
            out[str(r[4])].append(LogEvent(int(r[0]), parse_ts(r[1]), str(r[2]), json.loads(r[3])))
        return out

    async def log_of(self, kinds: Sequence[str]) -> list[LogEvent]:
        """Every entry of these kinds, oldest first (overrides, caller IDs, purges...)."""
        marks = ",".join("?" * len(kinds))
        rows = await self.db.fetchall(
            f"SELECT seq, at, kind, payload FROM audit WHERE kind IN ({marks}) ORDER BY seq",
            tuple(kinds),
        )
        return [LogEvent(int(r[0]), parse_ts(r[1]), str(r[2]), json.loads(r[3])) for r in rows]

    async def consent_obtained_at(self, ids: Iterable[int]) -> dict[int, dt.datetime]:
        """``obtained_at`` of consent rows still stored (older audit entries lack it)."""
        found: dict[int, dt.datetime] = {}
        for chunk in _chunks(sorted({str(i) for i in ids})):
            marks = ",".join("?" * len(chunk))
            for r in await self.db.fetchall(
                f"SELECT id, obtained_at FROM consents WHERE id IN ({marks})", chunk
            ):
                found[int(r[0])] = parse_ts(r[1])
        return found

    async def on_national_dnc(self, hashes: Iterable[str]) -> set[str]:
        """Which of these numbers the current national DNC copy holds."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(hashes))):
            marks = ",".join("?" * len(chunk))
            for r in await self.db.fetchall(
                f"SELECT number_hash FROM dnc_national WHERE number_hash IN ({marks})", chunk
            ):
                found.add(str(r[0]))
        return found

    async def audit_kinds(self, period: Period) -> Counter[str]:
        where, params = _where(period, "at")
        rows = await self.db.fetchall(
            f"SELECT kind, COUNT(*) FROM audit WHERE {where} GROUP BY kind", params
        )
        return Counter({str(r[0]): int(r[1]) for r in rows})

    async def last_audit_at(self, kind: str) -> str | None:
        value = await self._scalar("SELECT MAX(at) FROM audit WHERE kind = ?", (kind,))
        return str(value) if value is not None else None

    # -- C18 ---------------------------------------------------------------------------

    async def numbers_of(self, hashes: Iterable[str]) -> dict[str, str]:
        """The number behind each keyed hash, from any contact row that still holds it.

        By hash, not by ``contact_id``: a list loaded again (``--replace``) gets
        new contact ids and SQLite may hand the old ids to other people; the
        keyed hash always names the same number.
        """
        rows = await self._by_hash(
            "SELECT n.number_hash, c.number_sealed, c.id FROM contact_numbers n "
            "JOIN contacts c ON c.id = n.contact_id WHERE n.number_hash IN ({})",
            hashes,
        )
        return {
            h: self.sealer.open_field(
                bytes(found[0][1]), CONTACT_NUMBER.table, CONTACT_NUMBER.column, found[0][2]
            )
            for h, found in rows.items()
        }

    async def known_numbers(self, limit: int) -> list[str]:
        """Up to ``limit`` numbers each of the contacts and the caller IDs (C18 scan)."""
        numbers: list[str] = []
        for sealed in (CONTACT_NUMBER, CALLER_ID_NUMBER):
            for row in await self.db.fetchall(
                f"SELECT {sealed.column}, {sealed.id_column} FROM {sealed.table} LIMIT {limit}"
            ):
                numbers.append(
                    self.sealer.open_field(bytes(row[0]), sealed.table, sealed.column, row[1])
                )
        return numbers

    def database_files(self) -> list[Path]:
        """The database file and its WAL, for the C18 plaintext scan."""
        path = self.db.path
        return [path, path.with_name(path.name + "-wal")]
