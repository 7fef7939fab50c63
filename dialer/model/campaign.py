"""Campaigns, their messages and their attempts, as the store returns them (no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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
    #: the list version the campaign pinned when it was created (issue 11)
    version_id: int = 0
    #: issue 13: calls cut short after the answer (crash, shutdown, Asterisk lost)
    #: dialled again this many times per contact
    retry_interrupted: int = 1
    #: which of a guardian's phones are called (issue 12): primary, all, until-reached
    phones: str = "primary"


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
    #: the list version to call (issue 11); 0: the list's published version now
    version_id: int = 0
    retry_interrupted: int = 1
    #: which of a guardian's phones are called (issue 12): primary, all, until-reached
    phones: str = "primary"


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
    #: how far the call got (issue 13): crash recovery reads these
    answered: bool = False
    segment_reached: int | None = None
    completed: bool = False


@dataclass(frozen=True)
class InFlight:
    """An attempt a dead engine left open, with what the store knows of it."""

    call_id: str
    campaign_id: int
    #: None when the campaign row is gone
    campaign: str | None
    #: the campaign's lifecycle state ("cancelled" ...); None when the row is gone
    campaign_state: str | None
    contact_id: int
    answered: bool
    segment_reached: int | None
    completed: bool
    digits: str
    #: a keypad revocation for this very call is committed
    revoked: bool


@dataclass
class ProgressMarks:
    """Points one call passed since the last write (merged; see store record_progress)."""

    originated_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    #: the highest message segment reached (0 = the first)
    segment: int | None = None
    completed_at: dt.datetime | None = None
    #: keypad verdicts heard (9, 8), durable before the revocation is (C10)
    digits: str = ""


@dataclass(frozen=True)
class DialFacts:
    """Campaign-level facts the gate needs, read right before every attempt (C2, C6, C14, C15)."""

    caller_id_allowed: bool
    override_by: str | None
    national_dnc_as_of: dt.date | None


@dataclass(frozen=True)
class PlayPlan:
    """The sound files of one call, as Asterisk names them (no extension)."""

    segments: Sequence[str]
    optout_confirmation: str
    wrong_number_confirmation: str
    language: str = "en"
    #: segments that fell back to the default language (shown in the report)
    fallbacks: tuple[str, ...] = ()
    #: what each entry of ``segments`` is (identification, body ...), for the record
    kinds: tuple[str, ...] = ()
    #: the voicemail version, for an answering machine (hotline instead of press 9)
    voicemail: Sequence[str] = ()
