"""Campaigns and their attempts (C1, C2, C6).

An attempt row is written, and committed, *before* the originate is sent: if
the engine dies mid-call the row is there, and the next engine closes it by
how far the call got (dialer/campaign/recovery.py) before it dials anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiosqlite

from dialer.consent.crypto import Sealer
from dialer.consent.model import (
    CampaignRules,
    Decision,
    EmergencyCategory,
    NumberFacts,
    Purpose,
    RevocationChannel,
)
from dialer.errors import InputError, NotFoundError
from dialer.model.campaign import (
    AttemptRow,
    Campaign,
    DialFacts,
    InFlight,
    MessageSpec,
    NewCampaign,
    ProgressMarks,
)
from dialer.model.outcome import AttemptState, Outcome
from dialer.store import audit, gate_record, rows
from dialer.store.db import Clock, Database, parse_ts, ts
from dialer.store.sealed import CAMPAIGN_CALLER_ID

_ATTEMPT_COLUMNS = (
    "id, contact_id, attempt_no, decided_at, allowed, reason, detail, state, outcome, "
    "ami_reason, dial_status, hangup_cause, digits, language, note, answered_at, "
    "segment_reached, completed_at"
)


class CampaignStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    async def create(self, spec: NewCampaign, operator: str) -> int:
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM campaigns WHERE name = ?", (spec.name,)) as cur:
                if await cur.fetchone():
                    raise InputError(f"a campaign named {spec.name!r} already exists")
            async with conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM campaigns") as cur:
                found = await cur.fetchone()
            campaign_id = int(found[0]) if found else 1
            # the campaign pins the list's contents as they are now (issue 11): a
            # later import of the list makes a new version and leaves this one alone
            version_id = spec.version_id or await _published_version(conn, spec.list_id)
            await conn.execute(
                "INSERT INTO campaigns (id, name, purpose, list_id, message, caller_id_hash, "
                "caller_id_sealed, category, authorized_by, window_start, window_end, "
                "max_attempts, retry_delay, residential_exemption, created_at, created_by, "
                "version_id, retry_interrupted, phones) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    campaign_id,
                    spec.name,
                    spec.purpose.value,
                    spec.list_id,
                    json.dumps(spec.message.to_json()),
                    self.sealer.index(spec.caller_id),
                    self.sealer.seal_field(
                        spec.caller_id,
                        CAMPAIGN_CALLER_ID.table,
                        CAMPAIGN_CALLER_ID.column,
                        campaign_id,
                    ),
                    spec.category.value if spec.category else None,
                    spec.authorized_by,
                    spec.window_start.isoformat("minutes"),
                    spec.window_end.isoformat("minutes"),
                    spec.max_attempts,
                    spec.retry_delay,
                    int(spec.residential_exemption),
                    ts(now),
                    operator,
                    version_id,
                    spec.retry_interrupted,
                    spec.phones,
                ),
            )
            # C1: purpose, and for emergencies category and authorizer, are audited
            await audit.append(
                conn,
                self.sealer,
                "campaign-created",
                {
                    "campaign": spec.name,
                    "purpose": spec.purpose.value,
                    "category": spec.category.value if spec.category else None,
                    "authorized_by": spec.authorized_by,
                    "caller_id_hash": self.sealer.index(spec.caller_id),
                    "window": [
                        spec.window_start.isoformat("minutes"),
                        spec.window_end.isoformat("minutes"),
                    ],
                    "phones": spec.phones,
                    "by": operator,
                },
                now,
            )
        return campaign_id

    async def set_override(self, name: str, operator: str, reason: str) -> None:
        """C6: an explicit, audited override to call revoked numbers in an emergency."""
        campaign = await self.get(name)
        if campaign.purpose is not Purpose.EMERGENCY:
            raise InputError(
                f"C6: only emergency campaigns can override revocations; {name!r} is "
                f"{campaign.purpose.value}"
            )
        if not operator.strip() or not reason.strip():
            raise InputError("C6: an override needs the operator's name and a reason")
        now = self.clock()
        async with self.db.transaction() as conn:
            # a row is replaced, never edited: its MAC covers every column (C19)
            replaced = await rows.delete(
                conn, self.sealer, "campaign_overrides", "campaign_id = ?", (campaign.id,)
            )
            added = await rows.insert(
                conn,
                self.sealer,
                "campaign_overrides",
                {"campaign_id": campaign.id, "operator": operator, "reason": reason, "at": ts(now)},
            )
            await audit.append(
                conn,
                self.sealer,
                "override",
                {"campaign": name, "operator": operator, "reason": reason},
                now,
                added=[added],
                removed=replaced,
            )

    async def get(self, name: str) -> Campaign:
        row = await self.db.fetchone(
            "SELECT c.id, c.name, c.purpose, c.list_id, l.name, c.message, c.caller_id_sealed, "
            "c.window_start, c.window_end, c.max_attempts, c.retry_delay, c.category, "
            "c.authorized_by, c.residential_exemption, o.operator, c.version_id, "
            "c.retry_interrupted, c.phones "
            "FROM campaigns c JOIN contact_lists l ON l.id = c.list_id "
            "LEFT JOIN campaign_overrides o ON o.campaign_id = c.id WHERE c.name = ?",
            (name,),
        )
        if row is None:
            raise NotFoundError(f"no campaign named {name!r}")
        message = json.loads(row[5])
        return Campaign(
            id=int(row[0]),
            name=str(row[1]),
            purpose=Purpose(row[2]),
            list_id=int(row[3]),
            list_name=str(row[4]),
            message=MessageSpec.from_json(message),
            caller_id=self.sealer.open_field(
                row[6], CAMPAIGN_CALLER_ID.table, CAMPAIGN_CALLER_ID.column, int(row[0])
            ),
            window_start=dt.time.fromisoformat(row[7]),
            window_end=dt.time.fromisoformat(row[8]),
            max_attempts=int(row[9]),
            retry_delay=int(row[10]),
            category=EmergencyCategory(row[11]) if row[11] else None,
            authorized_by=row[12],
            residential_exemption=bool(row[13]),
            override_by=row[14],
            version_id=int(row[15]),
            retry_interrupted=int(row[16]),
            phones=str(row[17]),
        )

    async def set_retry_interrupted(self, name: str, times: int, operator: str) -> None:
        """Issue 13: how often a call cut short after the answer is dialled again (audited)."""
        campaign = await self.get(name)
        if campaign.retry_interrupted == times:
            return
        now = self.clock()
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE campaigns SET retry_interrupted = ? WHERE id = ?", (times, campaign.id)
            )
            await audit.append(
                conn,
                self.sealer,
                "campaign-retry-interrupted",
                {
                    "campaign": name,
                    "from": campaign.retry_interrupted,
                    "to": times,
                    "by": operator,
                },
                now,
            )

    async def names(self) -> list[tuple[str, str]]:
        rows = await self.db.fetchall("SELECT name, purpose FROM campaigns ORDER BY id")
        return [(str(r[0]), str(r[1])) for r in rows]

    async def progress_counts(self, campaign: Campaign) -> tuple[int, dict[str, int]]:
        """(contacts in the list, contacts per latest outcome) without unsealing a
        number: what the console's progress bars show when no engine runs it.
        A contact with no attempt yet counts as ``pending``; a call under way as
        ``in-progress``."""
        # the pinned version's size is stored with it (issue 11: no count over the list)
        total_row = await self.db.fetchone(
            "SELECT contacts FROM list_versions WHERE id = ?", (campaign.version_id,)
        )
        # SQLite: with MAX() the bare columns come from the row holding the maximum
        rows = await self.db.fetchall(
            "SELECT outcome, COUNT(*) FROM (SELECT contact_id, outcome, MAX(decided_at) "
            "FROM attempts WHERE campaign_id = ? GROUP BY contact_id) GROUP BY outcome",
            (campaign.id,),
        )
        total = int(total_row[0]) if total_row else 0
        counts = {str(r[0] or "in-progress"): int(r[1]) for r in rows}
        # issue 12: contacts covered by their household's call, or not called
        # under the campaign's --phones, are not pending
        for why, count in await self.db.fetchall(
            "SELECT why, COUNT(*) FROM campaign_households WHERE campaign_id = ? GROUP BY why",
            (campaign.id,),
        ):
            counts[str(why)] = counts.get(str(why), 0) + int(count)
        started = sum(counts.values())
        if total > started:
            counts["pending"] = total - started
        return total, counts

    async def campaigns_using_recording(self, recording: str) -> list[str]:
        rows = await self.db.fetchall("SELECT name, message FROM campaigns ORDER BY id")
        return [
            str(r[0])
            for r in rows
            if recording in MessageSpec.from_json(json.loads(r[1])).recordings()
        ]

    async def pinned_versions(self, recording: str) -> set[tuple[str, int]]:
        """(language, version) pairs of ``recording`` that some campaign plays."""
        rows = await self.db.fetchall("SELECT message FROM campaigns")
        pinned: set[tuple[str, int]] = set()
        for (message,) in rows:
            pins = MessageSpec.from_json(json.loads(message)).pins.get(recording, {})
            pinned.update(pins.items())
        return pinned

    # -- attempts ---------------------------------------------------------------

    async def record_decision(
        self,
        *,
        call_id: str,
        campaign: Campaign,
        contact_id: int,
        number: str,
        attempt_no: int,
        decision: Decision,
        with_consent: bool,
        language: str,
        facts: NumberFacts | None = None,
        rules: CampaignRules | None = None,
    ) -> None:
        """Store the gate's decision right before the dial (C2); blocked ones are audited.

        ``facts`` and ``rules``: what the gate decided on; kept with the attempt,
        MAC'd, so the C20 report can re-check the call later whatever happens to
        the contact list (``dialer.store.gate_record``).
        """
        now = self.clock()
        number_hash = self.sealer.index(number)
        state = AttemptState.DIALING if decision.allowed else AttemptState.BLOCKED
        if facts is not None and rules is not None:
            kept: str | None = gate_record.snapshot(number, facts, rules)
        else:
            # the caller kept nothing: keep what later cannot be rebuilt from the log
            listed = await self.db.quick_read(
                "SELECT 1 FROM dnc_national WHERE number_hash = ?", (number_hash,)
            )
            kept = gate_record.minimal_snapshot(number, national_dnc=bool(listed))
        mac = (
            gate_record.gate_mac(
                self.sealer,
                {
                    "id": call_id,
                    "campaign_id": campaign.id,
                    "number_hash": number_hash,
                    "purpose": campaign.purpose.value,
                    "decided_at": ts(now),
                    "allowed": int(decision.allowed),
                    "reason": decision.reason.value,
                    "with_consent": int(with_consent),
                    "gate_facts": kept,
                },
            )
            if kept
            else None
        )
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO attempts (id, campaign_id, contact_id, number_hash, attempt_no, "
                "purpose, decided_at, allowed, reason, detail, with_consent, state, outcome, "
                "ended_at, language, gate_facts, gate_mac) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    call_id,
                    campaign.id,
                    contact_id,
                    number_hash,
                    attempt_no,
                    campaign.purpose.value,
                    ts(now),
                    int(decision.allowed),
                    decision.reason.value,
                    decision.detail,
                    int(with_consent),
                    state.value,
                    None if decision.allowed else Outcome.BLOCKED.value,
                    None if decision.allowed else ts(now),
                    language,
                    kept,
                    mac,
                ),
            )
            if not decision.allowed or decision.reason.value == "emergency-override":
                await audit.append(
                    conn,
                    self.sealer,
                    "gate-blocked" if not decision.allowed else "gate-override",
                    {
                        "call_id": call_id,
                        "campaign": campaign.name,
                        "number_hash": number_hash,
                        "reason": decision.reason.value,
                        "detail": decision.detail,
                    },
                    now,
                )

    async def dial_facts(self, campaign: Campaign) -> DialFacts:
        """Allowlist, override and national DNC date as they are now (issue 7 item 5).

        One indexed read on the event loop's read connection (no store wait), so
        removing a caller ID or an override mid-run stops the very next attempt.
        """
        rows = await self.db.quick_read(
            "SELECT (SELECT 1 FROM caller_ids WHERE number_hash = ?1), "
            "(SELECT operator FROM campaign_overrides WHERE campaign_id = ?2), "
            "(SELECT as_of FROM dnc_national_imports ORDER BY id DESC LIMIT 1)",
            (self.sealer.index(campaign.caller_id), campaign.id),
        )
        allowed, override, as_of = rows[0]
        return DialFacts(
            caller_id_allowed=allowed is not None,
            override_by=str(override) if override is not None else None,
            national_dnc_as_of=dt.date.fromisoformat(as_of) if as_of else None,
        )

    async def block_before_dial(
        self,
        call_id: str,
        campaign: Campaign,
        number: str,
        decision: Decision,
        facts: NumberFacts | None = None,
        rules: CampaignRules | None = None,
    ) -> None:
        """The re-check right before the originate blocked an allowed attempt (C2, C6).

        The facts kept with the attempt become those of the re-check, MAC'd again
        with the new verdict (``gate_record``: the MAC covers allowed and reason).
        """
        now = self.clock()
        number_hash = self.sealer.index(number)
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT decided_at FROM attempts WHERE id = ?", (call_id,)
            ) as cur:
                found = await cur.fetchone()
            kept = gate_record.snapshot(number, facts, rules) if facts and rules else None
            mac = (
                gate_record.gate_mac(
                    self.sealer,
                    {
                        "id": call_id,
                        "campaign_id": campaign.id,
                        "number_hash": number_hash,
                        "purpose": campaign.purpose.value,
                        "decided_at": found[0],
                        "allowed": 0,
                        "reason": decision.reason.value,
                        "with_consent": int(decision.with_consent),
                        "gate_facts": kept,
                    },
                )
                if kept and found
                else None
            )
            await conn.execute(
                "UPDATE attempts SET allowed = 0, reason = ?, detail = ?, with_consent = ?, "
                "state = ?, outcome = ?, ended_at = ?, note = 're-checked right before the "
                "dial', gate_facts = ?, gate_mac = ? WHERE id = ? AND state = ?",
                (
                    decision.reason.value,
                    decision.detail,
                    int(decision.with_consent),
                    AttemptState.BLOCKED.value,
                    Outcome.BLOCKED.value,
                    ts(now),
                    kept,
                    mac,
                    call_id,
                    AttemptState.DIALING.value,
                ),
            )
            await audit.append(
                conn,
                self.sealer,
                "gate-blocked",
                {
                    "call_id": call_id,
                    "campaign": campaign.name,
                    "number_hash": number_hash,
                    "reason": decision.reason.value,
                    "detail": decision.detail,
                    "recheck": True,
                },
                now,
            )

    async def record_progress(self, marks: dict[str, ProgressMarks]) -> None:
        """Write how far calls got, many calls in one transaction (group commit).

        Each column only moves forward (a mark never un-happens), so batches may
        land in any order and after the outcome without harm.
        """
        rows = [
            (
                _opt_ts(m.originated_at),
                _opt_ts(m.answered_at),
                AttemptState.ANSWERED.value,
                AttemptState.DIALING.value,
                m.segment,
                _opt_ts(m.completed_at),
                m.digits,
                call_id,
            )
            for call_id, m in marks.items()
        ]
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE attempts SET originated_at = COALESCE(originated_at, ?1), "
                "answered_at = COALESCE(answered_at, ?2), "
                "state = CASE WHEN ?2 IS NOT NULL AND state = ?4 THEN ?3 ELSE state END, "
                "segment_reached = CASE WHEN ?5 IS NULL THEN segment_reached "
                "ELSE MAX(COALESCE(segment_reached, -1), ?5) END, "
                "completed_at = COALESCE(completed_at, ?6), "
                "digits = CASE WHEN ?7 = '' OR instr(digits, ?7) > 0 THEN digits "
                "ELSE digits || ?7 END WHERE id = ?8",
                rows,
            )

    async def mark_answered(self, call_id: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE attempts SET state = ?, answered_at = COALESCE(answered_at, ?) "
                "WHERE id = ? AND state = ?",
                (
                    AttemptState.ANSWERED.value,
                    ts(self.clock()),
                    call_id,
                    AttemptState.DIALING.value,
                ),
            )

    async def finish(
        self,
        call_id: str,
        outcome: Outcome,
        *,
        ami_reason: int | None = None,
        dial_status: str | None = None,
        hangup_cause: int | None = None,
        digits: str = "",
        note: str = "",
    ) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE attempts SET state = ?, outcome = ?, ami_reason = ?, dial_status = ?, "
                "hangup_cause = ?, digits = ?, note = ?, ended_at = ? WHERE id = ? AND state != ?",
                (
                    AttemptState.DONE.value,
                    outcome.value,
                    ami_reason,
                    dial_status,
                    hangup_cause,
                    digits,
                    note,
                    ts(self.clock()),
                    call_id,
                    AttemptState.DONE.value,
                ),
            )

    async def in_flight(self, campaign_id: int | None = None) -> list[InFlight]:
        """Attempts left dialing/answered (by an engine that died), with how far they got.

        ``revoked``: a keypad revocation for the very call is committed (C10).
        The campaign's name and state are None when its row is gone.
        """
        where = "" if campaign_id is None else " AND a.campaign_id = ?"
        rows = await self.db.fetchall(
            "SELECT a.id, a.campaign_id, c.name, c.state, a.contact_id, a.answered_at, "
            "a.segment_reached, a.completed_at, a.digits, EXISTS (SELECT 1 FROM revocations r "
            "WHERE r.source_ref = a.id AND r.channel = ?) FROM attempts a "
            "LEFT JOIN campaigns c ON c.id = a.campaign_id "
            f"WHERE a.state IN (?, ?){where} ORDER BY a.decided_at",
            (
                RevocationChannel.KEYPAD.value,
                AttemptState.DIALING.value,
                AttemptState.ANSWERED.value,
                *(() if campaign_id is None else (campaign_id,)),
            ),
        )
        return [
            InFlight(
                call_id=str(r[0]),
                campaign_id=int(r[1]),
                campaign=str(r[2]) if r[2] is not None else None,
                campaign_state=str(r[3]) if r[3] is not None else None,
                contact_id=int(r[4]),
                answered=r[5] is not None,
                segment_reached=r[6] if isinstance(r[6], int) else None,
                completed=r[7] is not None,
                digits=str(r[8] or ""),
                revoked=bool(r[9]),
            )
            for r in rows
        ]

    async def close_in_flight(self, closures: Sequence[tuple[str, Outcome, str]]) -> int:
        """Close attempts left in flight, in one transaction: (call id, outcome, note).

        Only rows still dialing/answered change (a second recovery changes nothing).
        """
        now = ts(self.clock())
        async with self.db.transaction() as conn:
            cursor = await conn.executemany(
                "UPDATE attempts SET state = ?, outcome = ?, note = ?, ended_at = ? "
                "WHERE id = ? AND state IN (?, ?)",
                [
                    (
                        AttemptState.DONE.value,
                        outcome.value,
                        note,
                        now,
                        call_id,
                        AttemptState.DIALING.value,
                        AttemptState.ANSWERED.value,
                    )
                    for call_id, outcome, note in closures
                ],
            )
            return cursor.rowcount

    async def bad_number_results(self, number: str, causes: frozenset[int]) -> int:
        """How many calls to this number, in any campaign, ended as a bad number (C16)."""
        marks = ",".join("?" * len(causes))
        row = await self.db.fetchone(
            f"SELECT COUNT(*) FROM attempts WHERE number_hash = ? AND hangup_cause IN ({marks})",
            (self.sealer.index(number), *sorted(causes)),
        )
        return int(row[0]) if row else 0

    async def attempts(self, campaign_id: int) -> list[AttemptRow]:
        rows = await self.db.fetchall(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = ? "
            "ORDER BY decided_at, attempt_no",
            (campaign_id,),
        )
        return [_attempt(r) for r in rows]

    async def contact_attempts(self, campaign_id: int, contact_id: int) -> list[AttemptRow]:
        rows = await self.db.fetchall(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = ? AND contact_id = ? "
            "ORDER BY decided_at, attempt_no",
            (campaign_id, contact_id),
        )
        return [_attempt(r) for r in rows]

    async def attempts_of_contacts(
        self, campaign_id: int, first_contact: int, last_contact: int
    ) -> list[AttemptRow]:
        """Attempts of the contacts with ids in ``[first, last]``, per contact in order
        (one page of a streamed report; the ``(campaign_id, contact_id)`` index)."""
        rows = await self.db.fetchall(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = ? "
            "AND contact_id BETWEEN ? AND ? ORDER BY contact_id, decided_at, attempt_no",
            (campaign_id, first_contact, last_contact),
        )
        return [_attempt(r) for r in rows]

    async def record_households(
        self,
        campaign_id: int,
        skipped: Mapping[int, tuple[str, int | None]],
        *,
        first_run: bool = False,
    ) -> None:
        """Contacts without a call of their own in this campaign, and why (issue 12).

        The same plan every run (the pinned version and the campaign's phones do
        not change): with ``first_run`` nothing is written when an earlier run
        recorded it. A later reason replaces an earlier one (covered, then its
        household reached on another phone). Written in short transactions."""
        items = list(skipped.items())
        if first_run:
            found = await self.db.fetchone(
                "SELECT 1 FROM campaign_households WHERE campaign_id = ? LIMIT 1", (campaign_id,)
            )
            if found is not None:
                return  # recorded by an earlier run: the plan does not change
        for start in range(0, len(items), 5000):
            chunk = items[start : start + 5000]
            async with self.db.transaction() as conn:
                await conn.executemany(
                    "INSERT OR REPLACE INTO campaign_households (campaign_id, contact_id, "
                    "lead_id, why) VALUES (?, ?, ?, ?)",
                    [(campaign_id, c, lead, str(why)) for c, (why, lead) in chunk],
                )

    async def households_of_contacts(
        self, campaign_id: int, first_contact: int, last_contact: int
    ) -> dict[int, tuple[str, int | None]]:
        """Why each contact in ``[first, last]`` has no call of its own (a report page)."""
        rows = await self.db.fetchall(
            "SELECT contact_id, why, lead_id FROM campaign_households WHERE campaign_id = ? "
            "AND contact_id BETWEEN ? AND ?",
            (campaign_id, first_contact, last_contact),
        )
        return {int(r[0]): (str(r[1]), None if r[2] is None else int(r[2])) for r in rows}

    async def covered_by(self, campaign_id: int, leads: Iterable[int]) -> dict[int, list[int]]:
        """The contacts each of ``leads``' calls covered, in list order."""
        wanted = list(leads)
        found: dict[int, list[int]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for r in await self.db.fetchall(
                "SELECT lead_id, contact_id FROM campaign_households WHERE campaign_id = ? "
                f"AND lead_id IN ({marks}) ORDER BY lead_id, contact_id",
                (campaign_id, *chunk),
            ):
                found.setdefault(int(r[0]), []).append(int(r[1]))
        return found

    async def attempts_of_ids(self, campaign_id: int, ids: Iterable[int]) -> list[AttemptRow]:
        """Attempts of these contacts (the household calls a report page refers to)."""
        wanted = sorted(set(ids))
        found: list[AttemptRow] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = ? "
                f"AND contact_id IN ({marks}) ORDER BY contact_id, decided_at, attempt_no",
                (campaign_id, *chunk),
            )
            found.extend(_attempt(r) for r in rows)
        return found

    async def attempt(self, call_id: str) -> AttemptRow:
        row = await self.db.fetchone(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE id = ?",
            (call_id,),
        )
        if row is None:
            raise NotFoundError(f"no call with id {call_id}")
        return _attempt(row)


def _opt_ts(moment: dt.datetime | None) -> str | None:
    return ts(moment) if moment is not None else None


async def _published_version(conn: aiosqlite.Connection, list_id: int) -> int:
    async with conn.execute(
        "SELECT version_id FROM contact_lists WHERE id = ? AND version_id IS NOT NULL",
        (list_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        raise NotFoundError(f"contact list {list_id} has no contents yet (still loading?)")
    return int(row[0])


def _attempt(r: Any) -> AttemptRow:
    return AttemptRow(
        id=str(r[0]),
        contact_id=int(r[1]),
        attempt_no=int(r[2]),
        decided_at=parse_ts(str(r[3])),
        allowed=bool(r[4]),
        reason=str(r[5]),
        detail=str(r[6]),
        state=AttemptState(r[7]),
        outcome=Outcome(r[8]) if r[8] else None,
        ami_reason=r[9] if isinstance(r[9], int) else None,
        dial_status=str(r[10]) if r[10] is not None else None,
        hangup_cause=r[11] if isinstance(r[11], int) else None,
        digits=str(r[12] or ""),
        language=str(r[13]) if r[13] is not None else None,
        note=str(r[14] or ""),
        answered=r[15] is not None,
        segment_reached=r[16] if isinstance(r[16], int) else None,
        completed=r[17] is not None,
    )


async def mark_digit(conn: aiosqlite.Connection, call_id: str, digit: str) -> None:
    """Add a keypad verdict to the call's attempt, inside the caller's transaction.

    Used by the keypad revocation (9) and the wrong-party suppression (8), so
    the attempt shows the digit exactly when its consequence is committed
    (crash recovery reads it: dialer/campaign/recovery.py). No row: not a call.
    """
    await conn.execute(
        "UPDATE attempts SET digits = digits || ?1 WHERE id = ?2 AND instr(digits, ?1) = 0",
        (digit, call_id),
    )
