"""Per-call requirements: the gate (C2), calling window (C12), caps (C13),
national DNC (C15) and the report's own must-be-zero figures (C20)."""

from __future__ import annotations

from dialer.compliance_report.checks.registry import (
    Context,
    Requirement,
    check,
    dial_rule,
    requirement,
)
from dialer.compliance_report.figures import MAX_EXAMPLES
from dialer.consent.model import NATIONAL_DNC_MAX_AGE, Purpose
from dialer.store.db import ts


@check("C2", "Gate before every attempt")
async def c2_gate(ctx: Context) -> Requirement:
    # a blocked attempt is never dialled, and each one has its audit entry
    dialled_blocked = [a.id for a in ctx.blocked if a.answered or a.state != "blocked"]
    audit_gap = abs(ctx.kinds["gate-blocked"] - len(ctx.blocked))
    return requirement(
        "C2",
        "one gate decision stored on every attempt; blocked attempts never dialled",
        {
            "attempts": len(ctx.attempts),
            "blocked": len(ctx.blocked),
            "blocked_but_dialled": len(dialled_blocked),
            "blocked_without_audit_entry": audit_gap,
            "call_ids": dialled_blocked[:MAX_EXAMPLES],
        },
        len(dialled_blocked) + audit_gap,
    )


@check("C12", "Calling window in the callee's local time")
async def c12_window(ctx: Context) -> Requirement:
    window = ctx.data["calls_outside_window"]
    return requirement(
        "C12",
        "local time of every allowed non-emergency call re-checked in every zone "
        "(the zones the gate used are kept with the attempt)",
        {k: window[k] for k in ("checked", "unverifiable", "count")},
        window["count"],
        window["unverifiable"],
    )


@check("C13", "Frequency caps")
async def c13_caps(ctx: Context) -> Requirement:
    caps = ctx.data["frequency_caps"]
    return requirement(
        "C13",
        "rolling caps re-checked across campaigns and caller IDs",
        {
            "checked": caps["checked"],
            "over_cap": caps["count"],
            "blocked_by_cap": ctx.blocked_by["frequency-cap"],
            "residential_exemption_calls": ctx.data["calls_without_required_consent"][
                "residential_exemption"
            ],
        },
        caps["count"],
    )


@check("C15", "National do-not-call list")
async def c15_national_dnc(ctx: Context) -> Requirement:
    imports = await ctx.store.evidence.national_dnc_imports()
    stale_calls = []
    for a in ctx.attempts:
        if a.allowed and a.purpose is Purpose.TELEMARKETING:
            held = [i.as_of for i in imports if i.imported_at <= a.at]
            if not held or a.at.date() - max(held) > NATIONAL_DNC_MAX_AGE:
                stale_calls.append(a.id)
    latest = imports[-1] if imports else None
    reference = ctx.period.until or ctx.store.clock()
    listed = dial_rule(ctx, "national-dnc")
    return requirement(
        "C15",
        "telemarketing checks a national DNC copy at most 31 days old",
        {
            "as_of": latest.as_of.isoformat() if latest else None,
            "imported_at": ts(latest.imported_at) if latest else None,
            "entries": latest.entries if latest else 0,
            "age_days": (reference.date() - latest.as_of).days if latest else None,
            "telemarketing_calls_with_stale_list": len(stale_calls),
            "blocked_dnc_national": ctx.blocked_by["dnc-national"],
            "blocked_dnc_list_stale": ctx.blocked_by["dnc-list-stale"],
            "telemarketing_calls_to_national_dnc": listed["violations"],
            "call_ids": (stale_calls + listed["call_ids"])[:MAX_EXAMPLES],
        },
        len(stale_calls) + listed["violations"],
        listed["unverifiable"],
    )


@check("C20", "Audit report")
async def c20_report(ctx: Context) -> Requirement:
    window = ctx.data["calls_outside_window"]
    consent = ctx.data["calls_without_required_consent"]
    dial_time = ctx.data["dial_time"]
    unverifiable = window["unverifiable"] + consent["unverifiable"] + dial_time["unverifiable"]
    return requirement(
        "C20",
        "this report: every placed call re-checked against every rule from the facts as "
        "they were at dial time; no violations only when every check could be made",
        {
            "outside_window": window["count"],
            "without_consent": consent["count"],
            "other_rules_broken": dial_time["violations"],
            "checks_that_could_not_be_made": unverifiable,
        },
        window["count"] + consent["count"] + dial_time["violations"],
        unverifiable,
    )
