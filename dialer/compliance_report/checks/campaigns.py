"""Campaign-level requirements: purpose (C1), the message (C8, C9, C11), caller ID (C14)."""

from __future__ import annotations

from collections import Counter

from dialer.compliance_report.checks.registry import (
    Context,
    Requirement,
    check,
    dial_rule,
    requirement,
)
from dialer.consent.model import Purpose


@check("C1", "Purpose")
async def c1_purpose(ctx: Context) -> Requirement:
    by_purpose = Counter(c.purpose.value for c in ctx.campaigns.values())
    emergency_bad = sum(
        1 for c in ctx.campaigns.values() if c.purpose is Purpose.EMERGENCY and not c.emergency_ok
    )
    return requirement(
        "C1",
        "every campaign has a purpose; emergency ones a category and an authorizer "
        "(audited as campaign-created)",
        {
            "campaigns_by_purpose": dict(by_purpose),
            "emergency_without_category_or_authorizer": emergency_bad,
            "campaigns_created_in_period": ctx.kinds["campaign-created"],
        },
        emergency_bad,
    )


@check("C8", "Identification first")
async def c8_identification(ctx: Context) -> Requirement:
    return requirement(
        "C8",
        "message validator refuses a campaign without identification first",
        {"campaigns": len(ctx.campaigns)},
    )


@check("C9", "Opt-out offered within 2 seconds")
async def c9_opt_out_offer(ctx: Context) -> Requirement:
    return requirement(
        "C9",
        "message validator measures the opt-out offer on the audio (within 2 s)",
        {"campaigns": len(ctx.campaigns)},
    )


@check("C11", "Callback number")
async def c11_callback_number(ctx: Context) -> Requirement:
    return requirement(
        "C11",
        "message validator refuses a message without the callback number",
        {"campaigns": len(ctx.campaigns)},
    )


@check("C14", "Caller ID")
async def c14_caller_id(ctx: Context) -> Requirement:
    allowlist = await ctx.store.evidence.allowlisted_caller_hashes()
    off_list = sum(1 for c in ctx.campaigns.values() if c.caller_id_hash not in allowlist)
    rule = dial_rule(ctx, "caller-id")
    return requirement(
        "C14",
        "caller IDs from the allowlist only; every placed call's caller ID re-checked "
        "against the allowlist as it was at dial time",
        {
            "allowlisted_caller_ids": len(allowlist),
            "campaigns_on_allowlist": len(ctx.campaigns) - off_list,
            "campaigns_not_on_allowlist_now": off_list,
            "blocked_caller_id": ctx.blocked_by["caller-id-not-allowed"],
            "calls_with_caller_id_not_allowed": rule["violations"],
            "call_ids": rule["call_ids"],
        },
        rule["violations"],
        rule["unverifiable"],
    )
