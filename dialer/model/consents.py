"""Consent and revocation records as they arrive and as the store confirms them (no I/O).

``ConsentInput.validate`` refuses an incomplete record (C3) before anything is
stored; the store, the CSV reader and the CLI all use it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from dialer.consent.model import ConsentSource, Purpose
from dialer.errors import ComplianceError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: C3: the record names the number in E.164 (callers normalise first)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@lru_cache(maxsize=256)
def _disclosure_sha256(disclosure: str) -> str:
    """C3: the disclosure's SHA-256 (given, or of the text). Cached: an export
    repeats the same few disclosure texts on every row."""
    text = disclosure.strip()
    if _SHA256.match(text.lower()):
        return text.lower()
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ConsentInput:
    """A consent record as it arrives; ``validate`` refuses incomplete ones (C3)."""

    number: str  # E.164
    scope: Purpose
    source: ConsentSource
    method: str
    obtained_at: dt.datetime
    disclosure: str  # the disclosure text shown, or its SHA-256
    evidence_ref: str
    contact_ref: str = ""
    signature_ref: str = ""
    written: bool = False
    #: C3: the record names no contact, and staff said so (``--no-contact``)
    no_contact: bool = False

    def disclosure_sha256(self) -> str:
        return _disclosure_sha256(self.disclosure)

    def validate(self, now: dt.datetime) -> None:
        if not _E164.match(self.number):
            raise ComplianceError("C3: consent record incomplete: missing number (E.164)")
        missing = [
            name
            for name, value in (
                ("method", self.method),
                ("disclosure", self.disclosure),
                ("evidence reference", self.evidence_ref),
            )
            if not value.strip()
        ]
        if missing:
            raise ComplianceError(f"C3: consent record incomplete: missing {', '.join(missing)}")
        if self.obtained_at.tzinfo is None:
            raise ComplianceError("C3: consent obtained-at must carry a time zone (UTC)")
        if self.obtained_at > now + dt.timedelta(minutes=5):
            raise ComplianceError("C3: consent obtained-at is in the future")
        if self.written and not self.signature_ref.strip():
            raise ComplianceError("C3: written consent needs a signature reference")
        if self.scope is Purpose.TELEMARKETING and not self.written:
            raise ComplianceError(
                "C3: telemarketing consent must be prior express written consent "
                "(give --written and a signature reference)"
            )
        if self.scope is Purpose.EMERGENCY:
            raise ComplianceError("C3: emergency calls need no consent; use scope school")
        if not self.contact_ref.strip() and not self.no_contact:
            raise ComplianceError(
                "C3: consent record incomplete: missing contact (who gave the consent); "
                "record it, or give --no-contact when the record names nobody"
            )


@dataclass(frozen=True)
class RevocationResult:
    revocation_id: int
    number_hash: str
    received_at: dt.datetime
    recorded_at: dt.datetime


@dataclass(frozen=True)
class DurableRevocation:
    """Where a revocation was made durable."""

    number_hash: str
    received_at: dt.datetime
    #: the store's row id; None while it waits in the journal
    revocation_id: int | None = None
    #: the journal entry's id when the store could not take it
    journal_id: str | None = None

    @property
    def journaled(self) -> bool:
        return self.revocation_id is None

    @property
    def reference(self) -> str:
        """What to show a person: ``revocation 12`` or ``journal entry 3f2a...``."""
        if self.revocation_id is not None:
            return f"revocation {self.revocation_id}"
        return f"revocation (journal entry {self.journal_id}; stored once the database recovers)"


#: a hotline revocation whose caller ID the trunk fully vouched for (STIR/SHAKEN
#: "A", verified by Asterisk); every other value is reviewed (issue 8 item 7)
ATTESTED = "A-verified"
#: what a hotline revocation records when the trunk vouched for nothing
NO_ATTESTATION = "none"


@dataclass(frozen=True)
class HotlineReview:
    """A hotline revocation whose caller ID was not fully attested, for staff review."""

    revocation_id: int
    received_at: dt.datetime
    #: "none", "B-verified", "failed:<reason>" ...; "" when recorded before attestations
    attestation: str
    #: the hotline call's Asterisk uniqueid
    source_ref: str
    #: the number, when a contact list has it (revocations keep only its keyed hash)
    number: str | None
    contact: str
    list_name: str
