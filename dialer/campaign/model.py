"""Campaign and contact data as the runner and reports use them (no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dialer.consent.model import EmergencyCategory, Purpose


class Outcome(StrEnum):
    """What happened to one attempt; persisted per attempt and per contact."""

    COMPLETED = "completed"
    OPTED_OUT = "opted-out"
    WRONG_NUMBER = "wrong-number"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    BLOCKED = "blocked"
    #: the engine stopped (crash, Ctrl-C) while the call was up: never redialled
    INTERRUPTED = "interrupted"
    #: the gate allowed it but the originate was never sent (Asterisk gone):
    #: nobody was called, so the contact is gated and dialled again next time
    NOT_PLACED = "not-placed"


class AttemptState(StrEnum):
    """Call lifecycle: gated → dialing → answered → done (or blocked)."""

    BLOCKED = "blocked"
    DIALING = "dialing"
    ANSWERED = "answered"
    DONE = "done"


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
class Contact:
    id: int
    external_id: str
    number: str  # E.164, decrypted in memory only
    language: str
    fields: dict[str, str] = field(default_factory=dict)
    needs_review: bool = False
