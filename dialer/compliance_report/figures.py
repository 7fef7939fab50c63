"""The period figures of the C20 report, recomputed from the raw rows
independently of ``dialer.consent.gate``: calls outside the window (C12),
calls without required consent (C2, C3, C7), revocations and their time to
effect (C5, C6), frequency caps (C13) and the audit chain (C19)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from dialer.compliance_report.rows import (
    MAX_EXAMPLES,
    _Attempt,
    _by_hash,
    _Campaign,
    _seconds,
)
from dialer.consent.model import DEFAULT_CAPS, Purpose, RevocationChannel
from dialer.consent.rules import effective_window
from dialer.consent.windows import first_zone_outside, resolved_zones
from dialer.errors import AuditChainError
from dialer.store.db import parse_ts, ts
from dialer.store.store import Store


def _needed_kind(scope: str, written: bool, purpose: Purpose) -> bool:
    """The consent a call of ``purpose`` relies on (COMPLIANCE.md purpose table)."""
    if purpose is Purpose.TELEMARKETING:
        return scope == Purpose.TELEMARKETING.value and written
    return scope == purpose.value


def _live_consent(
    consents: list[Any], revocations: list[Any], purpose: Purpose, at: dt.datetime, call_id: str
) -> bool:
    """A consent of the needed kind the store held at ``at``, obtained after every
    revocation the store held at ``at`` (a re-consent lifts a revocation). A
    revocation made *on* call ``call_id`` (keypad) came after its decision."""
    known = [parse_ts(r[1]) for r in revocations if parse_ts(r[2]) <= at and r[3] != call_id]
    last = max(known) if known else None
    return any(
        parse_ts(c[4]) <= at
        and (last is None or parse_ts(c[3]) > last)
        and (purpose is Purpose.EMERGENCY or _needed_kind(c[1], bool(c[2]), purpose))
        for c in consents
    )


async def _sealed_numbers(store: Store, attempts: Sequence[_Attempt]) -> dict[str, bytes]:
    """The sealed number of each attempt's ``number_hash``, from any contact row.

    By hash, not by ``contact_id``: a list loaded again (``--replace``) gets new
    contact ids and SQLite may hand the old ids to other people; the keyed hash
    always names the same number.
    """
    rows = await _by_hash(
        store,
        "SELECT number_hash, number_sealed FROM contacts WHERE number_hash IN ({})",
        {a.number_hash for a in attempts},
    )
    return {h: bytes(found[0][1]) for h, found in rows.items()}


async def _window_check(
    store: Store,
    allowed: Sequence[_Attempt],
    campaigns: dict[int, _Campaign],
    fallback: str,
) -> dict[str, Any]:
    """C12 recomputed: local time of every allowed non-emergency call, every zone."""
    subject = [a for a in allowed if a.purpose is not Purpose.EMERGENCY]
    sealed_of = await _sealed_numbers(store, subject)
    outside: list[str] = []
    unverifiable = 0
    for a in subject:
        sealed = sealed_of.get(a.number_hash)
        if sealed is None:
            unverifiable += 1  # the contact was erased (C17)
            continue
        number = store.sealer.open(sealed)
        start, end = effective_window(a.purpose, *campaigns[a.campaign_id].window)
        if first_zone_outside(resolved_zones(number, fallback), start, end, a.at) is not None:
            outside.append(a.id)
    return {
        "checked": len(subject) - unverifiable,
        "unverifiable": unverifiable,
        "count": len(outside),
        "call_ids": outside[:MAX_EXAMPLES],
    }


def _consent_check(
    allowed: Sequence[_Attempt],
    campaigns: dict[int, _Campaign],
    consents_of: dict[str, list[Any]],
    revocations_of: dict[str, list[Any]],
    erased: set[str],
) -> dict[str, Any]:
    """C2/C3/C7 recomputed: the consent each allowed non-emergency call relied on."""
    missing: list[str] = []
    exempt = unverifiable = checked = 0
    for a in allowed:
        if a.purpose is Purpose.EMERGENCY:
            continue
        if _live_consent(
            consents_of[a.number_hash], revocations_of[a.number_hash], a.purpose, a.at, a.id
        ):
            checked += 1
            continue
        if (
            a.purpose is Purpose.INFORMATIONAL
            and not a.with_consent
            and campaigns[a.campaign_id].residential_exemption
        ):
            exempt += 1  # allowed without consent, capped (C13)
        elif a.number_hash in erased:
            unverifiable += 1  # the evidence went with the person's data (C17)
        else:
            checked += 1
            missing.append(a.id)
    return {
        "checked": checked,
        "residential_exemption": exempt,
        "unverifiable": unverifiable,
        "count": len(missing),
        "call_ids": missing[:MAX_EXAMPLES],
    }


async def _revocation_effect(
    store: Store,
    revocations: Sequence[Any],
    consents_of: dict[str, list[Any]],
    revocations_of: dict[str, list[Any]],
) -> dict[str, Any]:
    """C5/C6: revocations by channel; delay to record; the next attempt is blocked."""
    attempts_of = await _by_hash(
        store,
        "SELECT number_hash, id, decided_at, allowed, reason, purpose FROM attempts "
        "WHERE number_hash IN ({}) ORDER BY decided_at",
        {str(r[1]) for r in revocations},
    )
    by_channel = Counter({c.value: 0 for c in RevocationChannel})
    delays: list[float] = []
    to_block: list[float] = []
    blocked = overridden = reconsented = before_recorded = 0
    violations: list[str] = []
    for _id, number_hash, channel, received_s, recorded_s, source_ref in revocations:
        by_channel[str(channel)] += 1
        received, recorded = parse_ts(received_s), parse_ts(recorded_s)
        delays.append((recorded - received).total_seconds())
        # attempts after the request, not counting the call it was made on (keypad)
        later = [
            row
            for row in attempts_of[number_hash]
            if parse_ts(row[2]) > received and row[1] != source_ref
        ]
        before_recorded += sum(
            1 for row in later if parse_ts(row[2]) < recorded and row[3] and row[4] == "allowed"
        )
        nxt = next((row for row in later if parse_ts(row[2]) > recorded), None)
        if nxt is None:
            continue
        at = parse_ts(nxt[2])
        if not nxt[3]:
            blocked += 1
            to_block.append((at - recorded).total_seconds())
        elif nxt[4] == "emergency-override":
            overridden += 1
        elif _live_consent(
            consents_of[number_hash], revocations_of[number_hash], Purpose(nxt[5]), at, nxt[1]
        ):
            reconsented += 1
        else:
            violations.append(str(nxt[1]))
    return {
        "total": len(revocations),
        "by_channel": dict(by_channel),
        "seconds_received_to_recorded": _seconds(delays),
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
            "seconds_recorded_to_blocked_attempt": _seconds(to_block),
        },
        "calls_between_received_and_recorded": before_recorded,
    }


async def _cap_check(store: Store, allowed: Sequence[_Attempt]) -> dict[str, Any]:
    """C13 recomputed with the default caps over all campaigns and caller IDs."""
    if not allowed:
        return {"checked": 0, "count": 0, "call_ids": []}
    longest = max(cap.window for cap in DEFAULT_CAPS)
    first = min(a.at for a in allowed) - longest
    history = await _by_hash(
        store,
        "SELECT number_hash, id, decided_at, with_consent FROM attempts "
        f"WHERE allowed = 1 AND decided_at >= '{ts(first)}' AND number_hash IN ({{}})",
        {a.number_hash for a in allowed},
    )
    over: list[str] = []
    for a in allowed:
        calls = [(parse_ts(r[2]), bool(r[3])) for r in history[a.number_hash] if r[1] != a.id]
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


async def _chain(store: Store) -> dict[str, Any]:
    try:
        chain = await store.verify_audit()
    except AuditChainError as exc:
        return {"ok": False, "entries": None, "head": None, "error": str(exc)}
    return {"ok": True, "entries": chain.entries, "head": chain.head_mac, "error": None}
