"""The period figures of the C20 report, recomputed from the raw rows
independently of ``dialer.consent.gate``: calls outside the window (C12),
calls without required consent (C2, C3, C7), revocations and their time to
effect (C5, C6), frequency caps (C13) and the audit chain (C19)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from dialer.consent.model import DEFAULT_CAPS, Purpose, RevocationChannel
from dialer.consent.rules import effective_window
from dialer.consent.windows import (
    UNKNOWN_ZONE,
    Zones,
    first_zone_outside,
    resolved_zones,
    zone_info,
)
from dialer.errors import AuditChainError, ConfigError
from dialer.model.consents import ATTESTED
from dialer.model.evidence import (
    AttemptRecord,
    CampaignRecord,
    ConsentRecord,
    RevocationRecord,
)
from dialer.store.store import Store

#: how many offending call ids a figure lists (the count is always complete)
MAX_EXAMPLES = 20


def seconds(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"max": None, "median": None}
    return {"max": round(max(values), 3), "median": round(statistics.median(values), 3)}


def _needed_kind(scope: str, written: bool, purpose: Purpose) -> bool:
    """The consent a call of ``purpose`` relies on (COMPLIANCE.md purpose table)."""
    if purpose is Purpose.TELEMARKETING:
        return scope == Purpose.TELEMARKETING.value and written
    return scope == purpose.value


def live_consent(
    consents: Sequence[ConsentRecord],
    revocations: Sequence[RevocationRecord],
    purpose: Purpose,
    at: dt.datetime,
    call_id: str,
) -> bool:
    """A consent of the needed kind the store held at ``at`` that comes after every
    revocation the store held at ``at``: recorded after it **and** obtained after
    it (a re-consent lifts a revocation; a revocation beats every consent recorded
    before it, whatever ``obtained_at`` that consent claims). A revocation made
    *on* call ``call_id`` (keypad) came after its decision."""
    known = [r for r in revocations if r.recorded_at <= at and r.source_ref != call_id]
    received = max((r.received_at for r in known), default=None)
    recorded = max((r.recorded_at for r in known), default=None)
    return any(
        c.recorded_at <= at
        and (received is None or c.obtained_at > received)
        and (recorded is None or c.recorded_at > recorded)
        and (purpose is Purpose.EMERGENCY or _needed_kind(c.scope, c.written, purpose))
        for c in consents
    )


def _zones(names: Sequence[str], fallback: str) -> Zones:
    """Kept zone names as the gate resolves them (an unknown zone: the fallback)."""
    resolved: dict[str, ZoneInfo] = {}
    for name in names:
        try:
            info = zone_info(name) if name != UNKNOWN_ZONE else None
        except ConfigError:
            info = None
        if info is None:
            name, info = fallback, zone_info(fallback)
        resolved.setdefault(name, info)
    return tuple(resolved.items())


async def window_check(
    store: Store,
    allowed: Sequence[AttemptRecord],
    campaigns: dict[int, CampaignRecord],
    fallback: str,
) -> dict[str, Any]:
    """C12 recomputed: local time of every allowed non-emergency call, every zone."""
    subject = [a for a in allowed if a.purpose is not Purpose.EMERGENCY]
    number_of = await store.evidence.numbers_of(
        {a.number_hash for a in subject if a.facts is None or not a.facts_ok}
    )
    outside: list[str] = []
    unknown: list[str] = []
    for a in subject:
        start, end = effective_window(a.purpose, *campaigns[a.campaign_id].window)
        if a.facts is not None and a.facts_ok:
            # the zones the gate used, kept with the attempt (the number may be gone)
            zones = _zones(a.facts.get("zones", ()), fallback)
        elif (number := number_of.get(a.number_hash)) is not None:
            zones = resolved_zones(number, fallback)
        else:
            unknown.append(a.id)  # no snapshot and no contact row holds the number
            continue
        if not zones:
            unknown.append(a.id)
        elif first_zone_outside(zones, start, end, a.at) is not None:
            outside.append(a.id)
    return {
        "checked": len(subject) - len(unknown),
        "unverifiable": len(unknown),
        "count": len(outside),
        "call_ids": outside[:MAX_EXAMPLES],
        "unverifiable_call_ids": unknown[:MAX_EXAMPLES],
    }


def consent_check(
    allowed: Sequence[AttemptRecord],
    campaigns: dict[int, CampaignRecord],
    consents_of: dict[str, list[ConsentRecord]],
    revocations_of: dict[str, list[RevocationRecord]],
    incomplete: set[str],
) -> dict[str, Any]:
    """C2/C3/C7 recomputed: the consent each allowed non-emergency call relied on,
    from the audit log's history of the number (it outlives erasure and purge).
    ``incomplete``: numbers whose history lacks a consent's ``obtained_at`` (old
    entries whose row is gone): a call that needs them is unverifiable."""
    missing: list[str] = []
    unknown: list[str] = []
    exempt = checked = 0
    for a in allowed:
        if a.purpose is Purpose.EMERGENCY:
            continue
        if live_consent(
            consents_of.get(a.number_hash, []),
            revocations_of.get(a.number_hash, []),
            a.purpose,
            a.at,
            a.id,
        ):
            checked += 1
            continue
        if (
            a.purpose is Purpose.INFORMATIONAL
            and not a.with_consent
            and campaigns[a.campaign_id].residential_exemption
        ):
            exempt += 1  # allowed without consent, capped (C13)
        elif a.number_hash in incomplete:
            unknown.append(a.id)
        else:
            checked += 1
            missing.append(a.id)
    return {
        "checked": checked,
        "residential_exemption": exempt,
        "unverifiable": len(unknown),
        "count": len(missing),
        "call_ids": missing[:MAX_EXAMPLES],
        "unverifiable_call_ids": unknown[:MAX_EXAMPLES],
    }


async def revocation_effect(
    store: Store,
    revocations: Sequence[RevocationRecord],
    consents_of: dict[str, list[ConsentRecord]],
    revocations_of: dict[str, list[RevocationRecord]],
) -> dict[str, Any]:
    """C5/C6: revocations by channel; delay to record; the next attempt is blocked."""
    calls_to = await store.evidence.calls_to({r.number_hash for r in revocations})
    by_channel = Counter({c.value: 0 for c in RevocationChannel})
    delays: list[float] = []
    to_block: list[float] = []
    blocked = overridden = reconsented = before_recorded = 0
    violations: list[str] = []
    # issue 8 item 7: how far the trunk vouched for each hotline caller ID
    hotline: Counter[str] = Counter()
    for rev in revocations:
        by_channel[rev.channel] += 1
        if rev.channel == RevocationChannel.HOTLINE.value:
            hotline[rev.attestation or "not recorded"] += 1
        received, recorded = rev.received_at, rev.recorded_at
        delays.append((recorded - received).total_seconds())
        # attempts after the request, not counting the call it was made on (keypad)
        later = [
            call
            for call in calls_to.get(rev.number_hash, [])
            if call.at > received and call.id != rev.source_ref
        ]
        before_recorded += sum(
            1 for call in later if call.at < recorded and call.allowed and call.reason == "allowed"
        )
        nxt = next((call for call in later if call.at > recorded), None)
        if nxt is None:
            continue
        if not nxt.allowed:
            blocked += 1
            to_block.append((nxt.at - recorded).total_seconds())
        elif nxt.reason == "emergency-override":
            overridden += 1
        elif live_consent(
            consents_of.get(rev.number_hash, []),
            revocations_of.get(rev.number_hash, []),
            nxt.purpose,
            nxt.at,
            nxt.id,
        ):
            reconsented += 1
        else:
            violations.append(nxt.id)
    return {
        "total": len(revocations),
        "by_channel": dict(by_channel),
        "seconds_received_to_recorded": seconds(delays),
        "next_attempt": {
            "revocations_followed_by_an_attempt": blocked
            + overridden
            + reconsented
            + len(violations),
            "blocked": blocked,
            "allowed_by_emergency_override": overridden,
            "allowed_after_new_consent": reconsented,
            "allowed_in_violation": len(violations),
            "call_ids": violations[:MAX_EXAMPLES],
            "seconds_recorded_to_blocked_attempt": seconds(to_block),
        },
        "calls_between_received_and_recorded": before_recorded,
        "hotline_attestation": dict(sorted(hotline.items())),
        # honoured like every revocation, but the caller ID may have been spoofed:
        # listed by `dialer contacts review` for staff to check with the family
        "hotline_unattested": sum(n for a, n in hotline.items() if a != ATTESTED),
    }


async def cap_check(store: Store, allowed: Sequence[AttemptRecord]) -> dict[str, Any]:
    """C13 recomputed with the default caps over all campaigns and caller IDs."""
    if not allowed:
        return {"checked": 0, "count": 0, "call_ids": []}
    longest = max(cap.window for cap in DEFAULT_CAPS)
    first = min(a.at for a in allowed) - longest
    history = await store.evidence.calls_to(
        {a.number_hash for a in allowed}, since=first, allowed_only=True
    )
    over: list[str] = []
    for a in allowed:
        calls = [(c.at, c.with_consent) for c in history.get(a.number_hash, []) if c.id != a.id]
        for cap in DEFAULT_CAPS:
            if cap.purposes and a.purpose not in cap.purposes:
                continue
            if cap.without_consent_only and a.with_consent:
                continue
            count = sum(
                1
                for at, with_consent in calls
                if a.at - cap.window <= at < a.at
                and not (cap.without_consent_only and with_consent)
            )
            if count >= cap.max_calls:
                over.append(a.id)
                break
    return {"checked": len(allowed), "count": len(over), "call_ids": over[:MAX_EXAMPLES]}


async def chain_check(store: Store) -> dict[str, Any]:
    try:
        chain = await store.verify_audit()
    except AuditChainError as exc:
        return {"ok": False, "entries": None, "head": None, "error": str(exc)}
    return {"ok": True, "entries": chain.entries, "head": chain.head_mac, "error": None}
