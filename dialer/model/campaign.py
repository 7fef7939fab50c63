"""Campaigns, their messages and their attempts, as the store returns them (no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dialer.consent.model import EmergencyCategory, Purpose
from dialer.model.outcome import AttemptState, Outcome


@dataclass(frozen=True)
class MessageSpec:
    """Which recordings make up the campaign's message (see dialer.audio).

    ``pins`` fixes, per recording and language, the version validated when the
    campaign was created (C8-C11): loading a new version of a recording later
    never changes what an existing campaign plays.
    """

    body: str  # recording name, or "template:<name>"
    identification: str = ""  # recording name; empty: speak the organisation's name
    pins: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"body": self.body, "identification": self.identification, "pins": self.pins}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageSpec:
        pins: dict[str, dict[str, int]] = {
            str(name): {str(lang): int(v) for lang, v in versions.items()}
            for name, versions in (data.get("pins") or {}).items()
        }
        return cls(str(data["body"]), str(data.get("identification") or ""), pins)

    def recordings(self) -> list[str]:
        return [n for n in (self.body, self.identification) if n and ":" not in n]


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    purpose: Purpose
    list_id: int
    list_name: str
    message: MessageSpec
    caller_id: str  # E.164, decrypted
    window_start: dt.time
    window_end: dt.time
    max_attempts: int
    retry_delay: int
    category: EmergencyCategory | None = None
    authorized_by: str | None = None
    residential_exemption: bool = False
    override_by: str | None = None


@dataclass(frozen=True)
class NewCampaign:
    """A campaign as ``campaign create`` asks for it (validated before it is stored)."""

    name: str
    purpose: Purpose
    list_id: int
    message: MessageSpec
    caller_id: str
    window_start: dt.time
    window_end: dt.time
    max_attempts: int
    retry_delay: int
    category: EmergencyCategory | None
    authorized_by: str | None
    residential_exemption: bool = False


@dataclass(frozen=True)
class AttemptRow:
    """One stored attempt: the gate's decision (C2) and what happened afterwards."""

    id: str
    contact_id: int
    attempt_no: int
    decided_at: dt.datetime
    allowed: bool
    reason: str
    detail: str
    state: AttemptState
    outcome: Outcome | None
    ami_reason: int | None
    dial_status: str | None
    hangup_cause: int | None
    digits: str
    language: str | None
    note: str
