"""What the C20 report reads from the store: rows as they were recorded (no I/O).

The store builds these (``dialer.store.evidence``); the compliance report
recomputes its figures from them, independently of the gate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dialer.consent.model import Purpose


@dataclass(frozen=True, slots=True)
class Period:
    """``[since, until)``; an open end is unbounded."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: str
    campaign_id: int
    contact_id: int
    number_hash: str
    purpose: Purpose
    at: dt.datetime
    allowed: bool
    reason: str
    with_consent: bool
    state: str
    outcome: str
    answered: bool
    digits: str
    #: what the gate decided on (``store.gate_record``); None: not kept (older attempts)
    facts: dict[str, Any] | None = None
    #: the kept facts verify against their MAC
    facts_ok: bool = True


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    purpose: Purpose
    window: tuple[dt.time, dt.time]
    residential_exemption: bool
    emergency_ok: bool
    caller_id_hash: str


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    id: int
    number_hash: str
    channel: str
    received_at: dt.datetime
    recorded_at: dt.datetime
    source_ref: str
    #: hotline: the caller-ID attestation ("A-verified", "none" ...); None elsewhere
    attestation: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    scope: str
    written: bool
    obtained_at: dt.datetime
    recorded_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CallRecord:
    """An attempt to a number, as the revocation and cap checks need it."""

    id: str
    at: dt.datetime
    allowed: bool
    reason: str
    purpose: Purpose
    with_consent: bool


@dataclass(frozen=True, slots=True)
class NationalDncImport:
    as_of: dt.date
    imported_at: dt.datetime
    entries: int


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One audit entry, as the report replays the history of a number or campaign."""

    seq: int
    at: dt.datetime
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
