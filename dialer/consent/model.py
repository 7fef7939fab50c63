"""Plain data the consent gate decides on (COMPLIANCE.md C1-C17).

No I/O here: the store builds these objects, the pure gate (``gate.decide``)
reads them, the runner acts on the ``Decision``. Everything is frozen and
hashable so the gate stays a pure function that tests can call millions of
times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Purpose(StrEnum):
    """Every campaign has exactly one purpose (C1); the gate derives the consent it needs."""

    EMERGENCY = "emergency"
    SCHOOL = "school"
    INFORMATIONAL = "informational"
    TELEMARKETING = "telemarketing"


class EmergencyCategory(StrEnum):
    """C1: an emergency campaign names its category (FCC 16-88)."""

    CLOSURE = "closure"
    SAFETY = "safety"
    HEALTH = "health"
    ATTENDANCE = "attendance"
    OTHER = "other-emergency"


class ConsentSource(StrEnum):
    """C3: where a consent came from."""

    ENROLLMENT = "enrollment"
    WEB_FORM = "web-form"
    STAFF = "staff"
    KEYPAD = "keypad"
    IMPORT = "import"


class RevocationChannel(StrEnum):
    """C5: every reasonable means of revoking ends in the same record."""

    KEYPAD = "keypad"
    HOTLINE = "hotline"
    SMS = "sms"
    STAFF = "staff"
    WEB = "web"
    EMAIL = "email"


class Reason(StrEnum):
    """The fixed set of gate reason codes stored on every attempt (C2)."""

    ALLOWED = "allowed"
    EMERGENCY_OVERRIDE = "emergency-override"  # allowed: revoked number, audited override (C6)
    NO_CONSENT = "no-consent"
    NO_WRITTEN_CONSENT = "no-written-consent"
    REVOKED = "revoked"
    DNC_COMPANY = "dnc-company"
    DNC_NATIONAL = "dnc-national"
    DNC_LIST_STALE = "dnc-list-stale"
    OUTSIDE_WINDOW = "outside-window"
    FREQUENCY_CAP = "frequency-cap"
    CALLER_ID_NOT_ALLOWED = "caller-id-not-allowed"
    ERASED = "erased"
    WRONG_PARTY = "wrong-party"
    EMERGENCY_DETAILS_MISSING = "emergency-details-missing"
    #: not the gate's: a personalised message lacks a field for this contact (issue 14)
    TEMPLATE_FIELD_MISSING = "template-field-missing"


#: Reasons that let the call through.
ALLOWING_REASONS = frozenset({Reason.ALLOWED, Reason.EMERGENCY_OVERRIDE})


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: Reason
    detail: str = ""
    #: for an allowed call: whether it relies on consent (False: an emergency call
    #: to a number with no live consent, or informational under the residential
    #: exemption). The runner copies it to ``CallFact.with_consent`` (C13).
    #: Not meaningful for a blocked decision.
    with_consent: bool = True


@dataclass(frozen=True, slots=True)
class ConsentFact:
    """One consent record as the gate needs it (the store holds full provenance, C3)."""

    scope: Purpose
    obtained_at: dt.datetime  # aware, UTC
    written: bool = False  # prior express *written* consent (telemarketing)
    #: when the store recorded it (a revocation beats every consent recorded
    #: before it, whatever ``obtained_at`` claims); None: unknown
    recorded_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class CallFact:
    """A call already placed to this number (any campaign, any caller ID) for C13."""

    at: dt.datetime  # aware, UTC
    purpose: Purpose
    with_consent: bool = True


@dataclass(frozen=True, slots=True)
class NumberFacts:
    """Everything the store knows about one number, read right before the attempt (C2)."""

    consents: tuple[ConsentFact, ...] = ()
    revoked_at: dt.datetime | None = None  # latest revocation received, any channel (C5-C7)
    #: when the latest revocation was recorded (an SMS export imported later keeps
    #: its received time, and still beats every consent recorded before it)
    revocation_recorded_at: dt.datetime | None = None
    company_dnc: bool = False  # on the organisation's own do-not-call list (C4)
    national_dnc: bool = False  # on the imported national DNC list (C15)
    erased: bool = False  # keyed-hash suppression after erasure (C17)
    wrong_party: bool = False  # suppressed for staff review (C16)
    recent_calls: tuple[CallFact, ...] = ()  # at least the last 30 days
    #: consent rows left out because their MAC does not verify (C19)
    unverified_consents: int = 0


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """At most ``max_calls`` placed calls in any rolling ``window`` (C13).

    ``purposes`` limits which campaigns the cap applies to (empty: all);
    ``without_consent_only`` makes it the residential-exemption cap.
    """

    max_calls: int
    window: dt.timedelta
    purposes: frozenset[Purpose] = frozenset()
    without_consent_only: bool = False


#: C13 defaults: telemarketing 3 per 24 h; calls without consent under the
#: residential exemption (informational campaigns) 3 per 30 days. Emergency calls
#: are exempt under 47 CFR 64.1200(a)(1), not under the residential exemption, so
#: this cap never drops a closure or safety alert.
DEFAULT_CAPS: tuple[FrequencyCap, ...] = (
    FrequencyCap(3, dt.timedelta(hours=24), frozenset({Purpose.TELEMARKETING})),
    FrequencyCap(
        3, dt.timedelta(days=30), frozenset({Purpose.INFORMATIONAL}), without_consent_only=True
    ),
)

#: C12 default calling window, and the strictest state rule for telemarketing.
DEFAULT_WINDOW = (dt.time(8, 0), dt.time(21, 0))
TELEMARKETING_WINDOW = (dt.time(8, 0), dt.time(20, 0))

#: C15: a national DNC copy older than this stops a telemarketing campaign.
NATIONAL_DNC_MAX_AGE = dt.timedelta(days=31)


@dataclass(frozen=True, slots=True)
class CampaignRules:
    """What the gate needs to know about the campaign an attempt belongs to."""

    purpose: Purpose
    window_start: dt.time = DEFAULT_WINDOW[0]
    window_end: dt.time = DEFAULT_WINDOW[1]
    caller_id_allowed: bool = True  # C14: caller ID is on the allowlist
    emergency_category: EmergencyCategory | None = None  # C1
    authorized_by: str | None = None  # C1
    revocation_override: bool = False  # C6: audited per-campaign override (emergency only)
    residential_exemption: bool = False  # informational calls without consent, capped (C13)
    national_dnc_as_of: dt.date | None = None  # C15
    caps: tuple[FrequencyCap, ...] = field(default=DEFAULT_CAPS)
    fallback_timezone: str = "America/New_York"  # when phonenumbers knows no zone
