"""``audit_report``: gathers the rows of the period (``store.evidence``), the
history of every number involved (the audit log), the recomputed figures
(``figures``, ``dialtime``) and every registered requirement check (``checks``)
into JSON-ready data. ``ok`` is true only when every rule was checked for every
placed call and none was broken: anything unverifiable is a finding."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from dialer.compliance_report import dialtime, figures
from dialer.compliance_report.checks import Context, checks
from dialer.consent.model import CampaignRules, Purpose
from dialer.model.evidence import ConsentRecord, Period, RevocationRecord
from dialer.store.store import Store

DEFAULT_FALLBACK_TIMEZONE = CampaignRules(purpose=Purpose.SCHOOL).fallback_timezone
#: far enough in the future to replay a number's whole history
_END = dt.datetime.max.replace(tzinfo=dt.UTC)


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
    names = {cid: name for cid, name in await evidence.campaign_names()}
    attempts = await evidence.attempts(period)
    allowed = [a for a in attempts if a.allowed]
    placed = [a for a in allowed if a.outcome != "not-placed"]
    blocked = [a for a in attempts if not a.allowed]
    erased = await evidence.erased_hashes()
    revocations = await evidence.revocations(period)

    # the history of every number involved, from the audit log (it outlives the rows)
    histories, campaign_log = await dialtime.load(
        store, {a.number_hash for a in allowed} | {r.number_hash for r in revocations}
    )
    consents_of: dict[str, list[ConsentRecord]] = {}
    revocations_of: dict[str, list[RevocationRecord]] = {}
    incomplete: set[str] = set()
    for number_hash, history in histories.items():
        consents_of[number_hash], complete = history.consents(_END)
        revocations_of[number_hash] = history.revocations(_END)
        if not complete:
            incomplete.add(number_hash)

    window = await figures.window_check(store, allowed, campaigns, fallback_timezone)
    consent = figures.consent_check(allowed, campaigns, consents_of, revocations_of, incomplete)
    effect = await figures.revocation_effect(store, revocations, consents_of, revocations_of)
    caps = await figures.cap_check(store, allowed)
    chain = await figures.chain_check(store)
    dial_time = await dialtime.dial_time_checks(
        store, placed, campaigns, names, histories, campaign_log
    )

    placed_by = Counter({p.value: 0 for p in Purpose})
    placed_by.update(a.purpose.value for a in allowed)
    blocked_by = Counter(a.reason for a in blocked)
    tampered = [a.id for a in attempts if a.facts is not None and not a.facts_ok]
    data: dict[str, Any] = {
        "period": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
        "generated_at": now.isoformat(),
        "calls_placed_by_purpose": dict(placed_by),
        "calls_blocked_by_reason": dict(blocked_by.most_common()),
        "revocations": effect,
        "calls_outside_window": window,
        "calls_without_required_consent": consent,
        "frequency_caps": caps,
        "dial_time": dial_time,
        "gate_facts": {
            "kept": sum(1 for a in attempts if a.facts is not None),
            "not_kept": sum(1 for a in allowed if a.facts is None),
            "failing_mac": len(tampered),
            "call_ids": tampered[: figures.MAX_EXAMPLES],
        },
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
    data["unverified"] = [r["id"] for r in data["requirements"] if r["status"] == "unverified"]
    data["ok"] = chain["ok"] and all(
        r["status"] in ("ok", "evidence") for r in data["requirements"]
    )
    return data
