"""``audit_report``: gathers the rows of the period, the recomputed figures
(``figures``) and the C1-C20 evidence (``requirements``) into JSON-ready data."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from dialer.compliance_report.figures import (
    _cap_check,
    _chain,
    _consent_check,
    _revocation_effect,
    _window_check,
)
from dialer.compliance_report.requirements import _requirements
from dialer.compliance_report.rows import _Attempt, _by_hash, _Campaign, _Period
from dialer.consent.model import CampaignRules, Purpose
from dialer.store.db import parse_ts
from dialer.store.store import Store

DEFAULT_FALLBACK_TIMEZONE = CampaignRules(purpose=Purpose.SCHOOL).fallback_timezone


async def audit_report(
    store: Store,
    since: dt.datetime | None,
    until: dt.datetime | None,
    *,
    fallback_timezone: str = DEFAULT_FALLBACK_TIMEZONE,
) -> dict[str, Any]:
    """Everything C20 asks for, as plain JSON-ready data (see module docstring)."""
    period = _Period(since, until)
    now = store.clock()
    db = store.db
    campaigns = {
        int(r[0]): _Campaign(
            Purpose(r[1]),
            (dt.time.fromisoformat(r[2]), dt.time.fromisoformat(r[3])),
            bool(r[4]),
            bool(r[5]) and bool((r[6] or "").strip()),
            str(r[7]),
        )
        for r in await db.fetchall(
            "SELECT id, purpose, window_start, window_end, residential_exemption, category, "
            "authorized_by, caller_id_hash FROM campaigns"
        )
    }
    where, params = period.where("decided_at")
    attempts = [
        _Attempt(
            str(r[0]),
            int(r[1]),
            int(r[2]),
            str(r[3]),
            Purpose(r[4]),
            parse_ts(r[5]),
            bool(r[6]),
            str(r[7]),
            bool(r[8]),
            str(r[9]),
            str(r[10] or ""),
            r[11] is not None,
            str(r[12] or ""),
        )
        for r in await db.fetchall(
            "SELECT id, campaign_id, contact_id, number_hash, purpose, decided_at, allowed, "
            "reason, with_consent, state, outcome, answered_at, digits FROM attempts "
            f"WHERE {where} ORDER BY decided_at",
            params,
        )
    ]
    allowed = [a for a in attempts if a.allowed]
    blocked = [a for a in attempts if not a.allowed]
    erased = {
        str(r[0])
        for r in await db.fetchall("SELECT number_hash FROM suppressions WHERE reason = 'erased'")
    }

    rev_where, rev_params = period.where("received_at")
    revocations = await db.fetchall(
        "SELECT id, number_hash, channel, received_at, recorded_at, source_ref FROM revocations "
        f"WHERE {rev_where} ORDER BY received_at",
        rev_params,
    )
    hashes = {a.number_hash for a in allowed} | {str(r[1]) for r in revocations}
    consents_of = await _by_hash(
        store,
        "SELECT number_hash, scope, written, obtained_at, recorded_at FROM consents "
        "WHERE number_hash IN ({})",
        hashes,
    )
    revocations_of = await _by_hash(
        store,
        "SELECT number_hash, received_at, recorded_at, source_ref FROM revocations "
        "WHERE number_hash IN ({})",
        hashes,
    )

    window = await _window_check(store, allowed, campaigns, fallback_timezone)
    consent = _consent_check(allowed, campaigns, consents_of, revocations_of, erased)
    effect = await _revocation_effect(store, revocations, consents_of, revocations_of)
    caps = await _cap_check(store, allowed)
    chain = await _chain(store)

    placed = Counter({p.value: 0 for p in Purpose})
    placed.update(a.purpose.value for a in allowed)
    data: dict[str, Any] = {
        "period": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
        "generated_at": now.isoformat(),
        "calls_placed_by_purpose": dict(placed),
        "calls_blocked_by_reason": dict(Counter(a.reason for a in blocked).most_common()),
        "revocations": effect,
        "calls_outside_window": window,
        "calls_without_required_consent": consent,
        "frequency_caps": caps,
        "audit_chain": chain,
    }
    data["requirements"] = await _requirements(store, period, data, attempts, campaigns, erased)
    data["ok"] = chain["ok"] and all(r["status"] != "violation" for r in data["requirements"])
    return data
