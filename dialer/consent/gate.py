"""The consent gate: one pure decision before every dial attempt (COMPLIANCE.md C2).

``decide(e164, facts, rules, now)`` is a pure function of its arguments: no I/O,
no clock, no randomness. The store reads ``NumberFacts`` right before the
attempt; the runner stores the ``Decision``'s reason on the attempt and dials
only when ``allowed`` (C2), copying ``Decision.with_consent`` to the call's
``CallFact`` (C13).

The checks run in this order; the first one that fails is the reason:

====  =====================  =====================================================
 #    reason                 rule
====  =====================  =====================================================
 1    caller-id-not-allowed  C14  campaign caller ID not on the allowlist
 2    emergency-details-     C1   emergency campaign without category / authorizer
      missing
 3    dnc-list-stale         C15  telemarketing, national DNC copy missing or >31 days
 4    erased                 C17  keyed-hash suppression; every purpose, no override
 5    wrong-party            C16  suppressed for staff review; every purpose
 6    revoked                C5-C7 a revocation (any channel, any campaign) blocks
                             every non-emergency purpose unless a consent of the
                             needed kind was obtained *after* it (re-consent);
                             emergency: blocked unless the campaign's audited
                             override (C6) -> allowed as ``emergency-override``
 7    dnc-company            organisation DNC list: non-emergency blocked;
                             emergency as for a revocation
 8    dnc-national           C15  telemarketing only
 9    no-consent /           consent for the purpose (table in COMPLIANCE.md);
      no-written-consent     informational may go without under the residential
                             exemption (then counted as a call without consent)
 10   outside-window         C12  non-emergency; must hold in every zone of the number
 11   frequency-cap          C13  rolling caps across all campaigns and caller IDs
====  =====================  =====================================================

A consent is *live* when there is no revocation, or when it was both recorded
and obtained strictly after the latest revocation (a revocation beats every
consent recorded before it, whatever ``obtained_at`` it claims). "Needed kind":
school -> scope school; informational -> scope informational; telemarketing ->
scope telemarketing and written;
emergency -> any scope (for emergency a consent only matters for re-consent
after a revocation and for counting the call as made with consent).

Frequency caps count every call in ``[now - window, ...)``, calls of all
purposes; calls dated after ``now`` (clock skew between writer and gate) are
counted too, the strictest reading. A ``without_consent_only`` cap counts only
calls made without consent and applies only when this call would be made
without consent.

``Decision.detail`` is a short human reason and never contains the number (C18).
"""

from __future__ import annotations

import datetime as dt

from dialer.consent.model import (
    CampaignRules,
    ConsentFact,
    Decision,
    FrequencyCap,
    NumberFacts,
    Purpose,
    Reason,
)
from dialer.consent.rules import campaign_block, dnc_list_stale, effective_window
from dialer.consent.windows import callee_zones, describe_outside, first_zone_outside
from dialer.errors import InputError

_EMERGENCY = Purpose.EMERGENCY
_SCHOOL = Purpose.SCHOOL
_INFORMATIONAL = Purpose.INFORMATIONAL
_TELEMARKETING = Purpose.TELEMARKETING

# Blocked decisions that carry no variable detail are built once (speed, C2 runs per attempt).
_ERASED = Decision(False, Reason.ERASED, "C17: number erased (suppression entry)", False)
_WRONG_PARTY = Decision(
    False, Reason.WRONG_PARTY, "C16: number suppressed as wrong party, staff review", False
)
_REVOKED = Decision(False, Reason.REVOKED, "C6/C7: consent revoked, no consent since", False)
_REVOKED_EMERGENCY = Decision(
    False, Reason.REVOKED, "C6: consent revoked and no emergency override", False
)
_DNC_COMPANY = Decision(False, Reason.DNC_COMPANY, "on the organisation's do-not-call list", False)
_DNC_COMPANY_EMERGENCY = Decision(
    False, Reason.DNC_COMPANY, "on the organisation's do-not-call list, no override", False
)
_DNC_NATIONAL = Decision(False, Reason.DNC_NATIONAL, "C15: on the national do-not-call list", False)
_NO_CONSENT = {
    _SCHOOL: Decision(False, Reason.NO_CONSENT, "no live consent for school calls", False),
    _INFORMATIONAL: Decision(
        False, Reason.NO_CONSENT, "no live consent for informational calls", False
    ),
    _TELEMARKETING: Decision(
        False,
        Reason.NO_WRITTEN_CONSENT,
        "no live prior express written consent for telemarketing",
        False,
    ),
}
_ALLOWED = {
    (_EMERGENCY, True): Decision(True, Reason.ALLOWED, "emergency call, consent on file", True),
    (_EMERGENCY, False): Decision(True, Reason.ALLOWED, "emergency call, no consent needed", False),
    (_SCHOOL, True): Decision(True, Reason.ALLOWED, "school consent", True),
    (_INFORMATIONAL, True): Decision(True, Reason.ALLOWED, "informational consent", True),
    (_INFORMATIONAL, False): Decision(
        True, Reason.ALLOWED, "residential exemption, call without consent", False
    ),
    (_TELEMARKETING, True): Decision(True, Reason.ALLOWED, "written telemarketing consent", True),
}
_OVERRIDE = {
    True: Decision(True, Reason.EMERGENCY_OVERRIDE, "C6: audited emergency override", True),
    False: Decision(
        True, Reason.EMERGENCY_OVERRIDE, "C6: audited emergency override, no consent", False
    ),
}


def call_needs_consent(purpose: Purpose) -> bool:
    """Whether a call of this purpose needs prior consent (all but emergency)."""
    return purpose is not _EMERGENCY


def _needed_kind(c: ConsentFact, purpose: Purpose) -> bool:
    """Whether consent ``c`` is the kind a call of ``purpose`` relies on."""
    if purpose is _EMERGENCY:
        return True
    if purpose is _TELEMARKETING:
        return c.scope is _TELEMARKETING and c.written
    return c.scope is purpose


def lifts_revocation(c: ConsentFact, facts: NumberFacts) -> bool:
    """Whether consent ``c`` comes after the latest revocation: a revocation beats
    every consent *recorded* before it, whatever ``obtained_at`` that consent
    claims; a consent lifts it only when recorded after it **and** obtained after
    it (COMPLIANCE.md, order of consent and revocation)."""
    if facts.revoked_at is None:
        return True
    if c.obtained_at <= facts.revoked_at:
        return False
    recorded = facts.revocation_recorded_at
    return recorded is None or (c.recorded_at is not None and c.recorded_at > recorded)


def has_live_consent(facts: NumberFacts, purpose: Purpose) -> bool:
    """A consent of the needed kind that comes after the latest revocation (if any)."""
    if facts.revoked_at is None:
        return any(_needed_kind(c, purpose) for c in facts.consents)
    return any(_needed_kind(c, purpose) and lifts_revocation(c, facts) for c in facts.consents)


def decide(
    e164: str,
    facts: NumberFacts,
    rules: CampaignRules,
    now: dt.datetime,
    zones: tuple[str, ...] = (),
) -> Decision:
    """Allowed or blocked, with the reason code, for one attempt to ``e164`` at ``now``.

    ``zones``: the number's time zones as stored with the contact at import
    (issue 11); without them they are resolved from the number here.
    """
    if now.tzinfo is None:
        raise InputError("gate: 'now' must be an aware datetime (UTC)")
    purpose = rules.purpose

    # 1-3: campaign-level (C14, C1, C15). The helper builds the decision; the
    # common cases skip it (speed: the gate runs before every attempt).
    if (
        not rules.caller_id_allowed
        or purpose is _EMERGENCY
        or (purpose is _TELEMARKETING and dnc_list_stale(rules.national_dnc_as_of, now))
    ):
        blocked = campaign_block(rules, now)
        if blocked is not None:
            return blocked

    # 4-5: suppressions that nothing overrides (C17, C16)
    if facts.erased:
        return _ERASED
    if facts.wrong_party:
        return _WRONG_PARTY

    live = has_live_consent(facts, purpose)
    emergency = purpose is _EMERGENCY
    override = False

    # 6: revocation (C5-C7); re-consent of the needed kind lifts it
    if facts.revoked_at is not None and not live:
        if not emergency:
            return _REVOKED
        if not rules.revocation_override:
            return _REVOKED_EMERGENCY
        override = True

    # 7: organisation DNC list
    if facts.company_dnc:
        if not emergency:
            return _DNC_COMPANY
        if not rules.revocation_override:
            return _DNC_COMPANY_EMERGENCY
        override = True

    # 8: national DNC (C15), telemarketing only
    if purpose is _TELEMARKETING and facts.national_dnc:
        return _DNC_NATIONAL

    # 9: consent for the purpose
    if emergency:
        with_consent = live
    elif live:
        with_consent = True
    elif purpose is _INFORMATIONAL and rules.residential_exemption:
        with_consent = False
    else:
        return _NO_CONSENT[purpose]

    # 10: calling window in the callee's local time (C12), non-emergency only
    if not emergency:
        start, end = effective_window(purpose, rules.window_start, rules.window_end)
        places = callee_zones(e164, zones, rules.fallback_timezone)
        outside = first_zone_outside(places, start, end, now)
        if outside is not None:
            return Decision(
                False,
                Reason.OUTSIDE_WINDOW,
                describe_outside(outside[0], outside[1], start, end),
                with_consent,
            )

    # 11: rolling frequency caps (C13)
    if rules.caps:
        capped = _first_cap_reached(rules.caps, facts, purpose, with_consent, now)
        if capped is not None:
            return capped

    if override:
        return _OVERRIDE[with_consent]
    return _ALLOWED[(purpose, with_consent)]


def _first_cap_reached(
    caps: tuple[FrequencyCap, ...],
    facts: NumberFacts,
    purpose: Purpose,
    with_consent: bool,
    now: dt.datetime,
) -> Decision | None:
    for cap in caps:
        if cap.purposes and purpose not in cap.purposes:
            continue
        if cap.without_consent_only and with_consent:
            continue
        since = now - cap.window
        count = 0
        if cap.without_consent_only:
            for c in facts.recent_calls:
                if c.at >= since and not c.with_consent:
                    count += 1
        else:
            for c in facts.recent_calls:
                if c.at >= since:
                    count += 1
        if count >= cap.max_calls:
            kind = " without consent" if cap.without_consent_only else ""
            return Decision(
                False,
                Reason.FREQUENCY_CAP,
                f"C13: {count} calls{kind} in the last {_span(cap.window)}, cap {cap.max_calls}",
                with_consent,
            )
    return None


def _span(window: dt.timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"
