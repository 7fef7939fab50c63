"""Campaign lifecycle state in the store (contract 2; the table is ``campaign.lifecycle``).

A change reads the current state and writes the new one inside one
``BEGIN IMMEDIATE`` transaction, so two processes (the CLI and the service,
or two staff in the web UI) can never both pause-then-resume from the same
state: the second sees the first's result and is judged against it. Each
change adds a ``campaign_transitions`` row and an audit entry (C19) in the
same transaction: no state without its record.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from dialer.consent.crypto import Sealer
from dialer.errors import NotFoundError
from dialer.model.lifecycle import CampaignState, Command, transition
from dialer.model.outcome import Outcome
from dialer.store import audit
from dialer.store.db import Clock, Database, parse_ts, ts

AUDIT_KIND = "campaign-state"


@dataclass(frozen=True)
class LifecycleRow:
    campaign_id: int
    name: str
    state: CampaignState
    start_at: dt.datetime | None
    changed_at: dt.datetime | None
    changed_by: str | None
    reason: str

    def to_json(self) -> dict[str, object]:
        return {
            "campaign": self.name,
            "state": self.state.value,
            "start_at": self.start_at.isoformat() if self.start_at else None,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
            "changed_by": self.changed_by,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Transition:
    from_state: CampaignState
    to_state: CampaignState
    command: Command
    at: dt.datetime
    by: str
    reason: str
    start_at: dt.datetime | None


_COLUMNS = "id, name, state, start_at, state_at, state_by, state_reason"


def _row(r: tuple[object, ...]) -> LifecycleRow:
    return LifecycleRow(
        campaign_id=int(str(r[0])),
        name=str(r[1]),
        state=CampaignState(str(r[2])),
        start_at=parse_ts(str(r[3])) if r[3] else None,
        changed_at=parse_ts(str(r[4])) if r[4] else None,
        changed_by=str(r[5]) if r[5] else None,
        reason=str(r[6] or ""),
    )


class LifecycleStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    async def get(self, name: str) -> LifecycleRow:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM campaigns WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no campaign named {name!r}")
        return _row(tuple(row))

    async def all(self) -> list[LifecycleRow]:
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM campaigns ORDER BY id")
        return [_row(tuple(r)) for r in rows]

    async def live(self) -> list[LifecycleRow]:
        """Campaigns the service must look after: scheduled, running or paused."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM campaigns WHERE state IN (?, ?, ?) ORDER BY id",
            (CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED),
        )
        return [_row(tuple(r)) for r in rows]

    async def apply(
        self,
        name: str,
        command: Command,
        *,
        by: str,
        reason: str = "",
        start_at: dt.datetime | None = None,
    ) -> LifecycleRow:
        """Move the campaign by ``command``; ``StateError`` when its state forbids it."""
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute(
                f"SELECT {_COLUMNS} FROM campaigns WHERE name = ?", (name,)
            ) as cur:
                found = await cur.fetchone()
            if found is None:
                raise NotFoundError(f"no campaign named {name!r}")
            current = _row(tuple(found))
            target = transition(name, current.state, command)
            keep_start = start_at if target is CampaignState.SCHEDULED else None
            await conn.execute(
                "UPDATE campaigns SET state = ?, start_at = ?, state_at = ?, state_by = ?, "
                "state_reason = ? WHERE id = ?",
                (
                    target.value,
                    ts(keep_start) if keep_start else None,
                    ts(now),
                    by,
                    reason,
                    current.campaign_id,
                ),
            )
            await conn.execute(
                "INSERT INTO campaign_transitions (campaign_id, from_state, to_state, command, "
                "start_at, at, by, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    current.campaign_id,
                    current.state.value,
                    target.value,
                    command.value,
                    ts(keep_start) if keep_start else None,
                    ts(now),
                    by,
                    reason,
                ),
            )
            await audit.append(
                conn,
                self.sealer,
                AUDIT_KIND,
                {
                    "campaign": name,
                    "from": current.state.value,
                    "to": target.value,
                    "command": command.value,
                    "start_at": ts(keep_start) if keep_start else None,
                    "by": by,
                    "reason": reason,
                },
                now,
            )
        return LifecycleRow(current.campaign_id, name, target, keep_start, now, by, reason)

    async def history(self, name: str) -> list[Transition]:
        current = await self.get(name)
        rows = await self.db.fetchall(
            "SELECT from_state, to_state, command, at, by, reason, start_at "
            "FROM campaign_transitions WHERE campaign_id = ? ORDER BY id",
            (current.campaign_id,),
        )
        return [
            Transition(
                CampaignState(r[0]),
                CampaignState(r[1]),
                Command(r[2]),
                parse_ts(r[3]),
                str(r[4]),
                str(r[5]),
                parse_ts(r[6]) if r[6] else None,
            )
            for r in rows
        ]

    async def record_reveal(self, name: str, by: str, rows: int) -> None:
        """C18/C19: an export with plaintext numbers is audited (who, campaign, rows)."""
        async with self.db.transaction() as conn:
            await audit.append(
                conn,
                self.sealer,
                "report-reveal",
                {"campaign": name, "by": by, "rows": rows},
                self.clock(),
            )

    async def contact_count(self, version_id: int) -> int:
        """Contacts of a campaign's pinned list version (stored with it, issue 11)."""
        row = await self.db.fetchone(
            "SELECT contacts FROM list_versions WHERE id = ?", (version_id,)
        )
        return int(row[0]) if row else 0

    async def outcome_counts(self, campaign_id: int) -> tuple[Counter[str], int]:
        """Each contact's latest outcome so far (no number is decrypted), and calls placed.

        Counted by SQLite over the ``attempts_by_campaign`` index, which holds every
        column these read (issue 11: a million-call campaign's status in about a
        second, nothing per contact in this process).
        """
        # with MAX() the bare column comes from the row holding the maximum
        rows = await self.db.fetchall(
            "SELECT outcome, COUNT(*) FROM (SELECT contact_id, outcome, MAX(decided_at) "
            "FROM attempts WHERE campaign_id = ? GROUP BY contact_id) GROUP BY outcome",
            (campaign_id,),
        )
        placed = await self.db.fetchone(
            "SELECT COUNT(*) FROM attempts WHERE campaign_id = ? AND allowed = 1 "
            "AND (outcome IS NULL OR outcome != ?)",
            (campaign_id, Outcome.NOT_PLACED.value),
        )
        counts: Counter[str] = Counter({str(r[0] or "in-progress"): int(r[1]) for r in rows})
        return counts, int(placed[0]) if placed else 0
