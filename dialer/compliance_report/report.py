"""``audit_report``: gathers the rows of the period (``store.evidence``), the
recomputed figures (``figures``) and every registered requirement check
(``checks``) into JSON-ready data."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from dialer.compliance_report import figures
from dialer.compliance_report.checks import Context, checks
from dialer.consent.model import CampaignRules, Purpose
from dialer.model.evidence import Period
from dialer.store.store import Store

DEFAULT_FALLBACK_TIMEZONE = CampaignRules(purpose=Purpose.SCHOOL).fallback_timezone


async def audit_report(
    store: Store,
    since: dt.datetime | None,
    until: dt.datetime | None,
    *,
    fallback_timezone: str = DEFAULT_FALLBACK_TIMEZONE,
) -> dict[str, Any]:
    """Everything C20 asks for, as plain JSON-ready data (see the package docstring)."""
    period = Period(since, until)
    now = store.clock()
    evidence = store.evidence
    campaigns = await evidence.campaigns()
    attempts = await evidence.attempts(period)
    allowed = [a for a in attempts if a.allowed]
    blocked = [a for a in attempts if not a.allowed]
    erased = await evidence.erased_hashes()
    revocations = await evidence.revocations(period)
    hashes = {a.number_hash for a in allowed} | {r.number_hash for r in revocations}
    consents_of = await evidence.consents_of(hashes)
    revocations_of = await evidence.revocations_of(hashes)

    window = await figures.window_check(store, allowed, campaigns, fallback_timezone)
    consent = figures.consent_check(allowed, campaigns, consents_of, revocations_of, erased)
    effect = await figures.revocation_effect(store, revocations, consents_of, revocations_of)
    caps = await figures.cap_check(store, allowed)
    chain = await figures.chain_check(store)

    placed = Counter({p.value: 0 for p in Purpose})
    placed.update(a.purpose.value for a in allowed)
    blocked_by = Counter(a.reason for a in blocked)
    data: dict[str, Any] = {
        "period": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
        "generated_at": now.isoformat(),
        "calls_placed_by_purpose": dict(placed),
        "calls_blocked_by_reason": dict(blocked_by.most_common()),
        "revocations": effect,
        "calls_outside_window": window,
        "calls_without_required_consent": consent,
        "frequency_caps": caps,
        "audit_chain": chain,
    }
    context = Context(
        store=store,
        period=period,
        data=data,
        attempts=attempts,
        campaigns=campaigns,
        erased=erased,
        kinds=await evidence.audit_kinds(period),
        blocked=blocked,
        blocked_by=blocked_by,
    )
    data["requirements"] = [await c.run(context) for c in checks()]
    data["ok"] = chain["ok"] and all(r["status"] != "violation" for r in data["requirements"])
    return data
