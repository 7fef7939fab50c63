"""Helpers for the store tests: a real key file, a real SQLite file, a clock tests move.

Nothing here is a mock: ``open_store`` opens the production ``Store`` on a file
under the test's ``tmp_path`` with a key made by the production
``create_key_file``; the only thing a test controls is the clock.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

from dialer.consent.crypto import create_key_file
from dialer.consent.model import (
    CampaignRules,
    ConsentSource,
    Decision,
    EmergencyCategory,
    Purpose,
)
from dialer.errors import NotFoundError
from dialer.model.campaign import Campaign, MessageSpec, NewCampaign
from dialer.model.consents import ConsentInput
from dialer.model.contact import NewContact
from dialer.store.store import Store

#: 11:00 in New York (the numbers below are Manhattan numbers): inside every window
T0 = dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)

#: fictional-range (555-01xx) New York numbers, valid for phonenumbers
NUMBERS = tuple(f"+1212555{n:04d}" for n in range(100, 200))
CALLER_ID = "+12125550100"

NON_EMERGENCY = (Purpose.SCHOOL, Purpose.INFORMATIONAL, Purpose.TELEMARKETING)
TABLES = (
    "consents",
    "revocations",
    "dnc_company",
    "dnc_national",
    "suppressions",
    "caller_ids",
    "contacts",
    "attempts",
    "audit",
)


class Clock:
    """A clock the test moves; pass it as ``clock=`` to the store."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.now += delta
        return self.now


def key_file(root: Path) -> Path:
    path = root / "dialer.key"
    if not path.exists():
        create_key_file(path)
    return path


async def open_store(root: Path, clock: Clock | None = None, name: str = "dialer.db") -> Store:
    return await Store.open(root / name, key_file(root), clock=clock or Clock())


def consent(
    number: str,
    scope: Purpose = Purpose.SCHOOL,
    *,
    obtained_at: dt.datetime | None = None,
    written: bool | None = None,
    **overrides: str,
) -> ConsentInput:
    """A complete consent record (C3); telemarketing ones are written and signed."""
    is_written = scope is Purpose.TELEMARKETING if written is None else written
    fields: dict[str, str] = {
        "method": "enrollment form 2025-26",
        "disclosure": "We may call you with prerecorded school messages.",
        "evidence_ref": "SIS:form/4411",
        "contact_ref": "parent of student 4411",
        "signature_ref": "esign:4411" if is_written else "",
    }
    fields.update(overrides)
    return ConsentInput(
        number=number,
        scope=scope,
        source=ConsentSource.ENROLLMENT,
        method=fields["method"],
        obtained_at=obtained_at or T0 - dt.timedelta(days=30),
        disclosure=fields["disclosure"],
        evidence_ref=fields["evidence_ref"],
        contact_ref=fields["contact_ref"],
        signature_ref=fields["signature_ref"],
        written=is_written,
    )


def rules(purpose: Purpose, now: dt.datetime, *, override: bool = False) -> CampaignRules:
    """Campaign rules that pass every campaign-level check, so the number decides."""
    if purpose is Purpose.EMERGENCY:
        return CampaignRules(
            purpose,
            emergency_category=EmergencyCategory.CLOSURE,
            authorized_by="Superintendent",
            revocation_override=override,
        )
    if purpose is Purpose.TELEMARKETING:
        return CampaignRules(purpose, national_dnc_as_of=now.date())
    return CampaignRules(purpose)


async def campaign(
    store: Store, name: str, purpose: Purpose = Purpose.SCHOOL, list_name: str = "families"
) -> Campaign:
    """A real campaign row (with its contact list and allowed caller ID)."""
    try:
        list_id = await store.contacts.list_id(list_name)
    except NotFoundError:
        list_id = await store.contacts.import_list(
            list_name,
            [NewContact("c1", NUMBERS[0], "en", {"name": "Ada"})],
            replace=False,
            operator="test",
        )
    emergency = purpose is Purpose.EMERGENCY
    await store.campaigns.create(
        NewCampaign(
            name=name,
            purpose=purpose,
            list_id=list_id,
            message=MessageSpec("body"),
            caller_id=CALLER_ID,
            window_start=dt.time(8),
            window_end=dt.time(20),
            max_attempts=1,
            retry_delay=300,
            category=EmergencyCategory.CLOSURE if emergency else None,
            authorized_by="Superintendent" if emergency else None,
        ),
        "test",
    )
    return await store.campaigns.get(name)


async def record(
    store: Store, camp: Campaign, number: str, decision: Decision, call_id: str
) -> None:
    await store.campaigns.record_decision(
        call_id=call_id,
        campaign=camp,
        contact_id=1,
        number=number,
        attempt_no=1,
        decision=decision,
        with_consent=decision.with_consent,
        language="en",
    )


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection: what an attacker or a curious admin would use."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def counts(path: Path) -> dict[str, int]:
    with closing(raw(path)) as conn:
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}


def audit_kinds(path: Path) -> dict[str, int]:
    with closing(raw(path)) as conn:
        rows = conn.execute("SELECT kind, COUNT(*) FROM audit GROUP BY kind").fetchall()
    return {str(kind): int(n) for kind, n in rows}
