"""Consent and revocation requirements: records (C3), retention (C4),
revocation channels (C5), immediate effect (C6), scope (C7), keypad 9 (C10)."""

from __future__ import annotations

from collections import Counter

from dialer.compliance_report.checks.registry import (
    Context,
    Requirement,
    check,
    dial_rule,
    requirement,
)
from dialer.compliance_report.figures import MAX_EXAMPLES


@check("C3", "Consent records with provenance")
async def c3_consent_records(ctx: Context) -> Requirement:
    sources = await ctx.store.evidence.consent_sources(ctx.period)
    incomplete = await ctx.store.evidence.incomplete_consents()
    return requirement(
        "C3",
        "append-only consent records with full provenance; incomplete ones refused; "
        "a record naming no contact only with --no-contact, counted here",
        {
            "recorded_in_period_by_source": dict(sources),
            "recorded_in_period_without_contact": await ctx.store.evidence.consents_without_contact(
                ctx.period
            ),
            "incomplete_records": incomplete,
        },
        incomplete,
    )


@check("C4", "Retention")
async def c4_retention(ctx: Context) -> Requirement:
    evidence = ctx.store.evidence
    listed = dial_rule(ctx, "company-dnc")
    return requirement(
        "C4",
        "evidence kept 5 years after the last call relying on it (every allowed call's "
        "consent still found, see C20); purge removes only what is past retention and "
        "leaves a suppression for every revoked number; no call to a number on the "
        "organisation's DNC list (emergency only with an override)",
        {
            "oldest_consent_obtained_at": await evidence.oldest_consent_obtained_at(),
            "last_purge_at": await evidence.last_audit_at("purge"),
            "purges_in_period": ctx.kinds["purge"],
            "company_dnc_entries": await evidence.company_dnc_entries(),
            "calls_to_company_dnc": listed["violations"],
            "call_ids": listed["call_ids"],
        },
        listed["violations"],
        listed["unverifiable"],
    )


@check("C5", "Revocation by any reasonable means")
async def c5_channels(ctx: Context) -> Requirement:
    return requirement(
        "C5",
        "keypad, hotline, SMS, staff, web and email all end in the same revocation record",
        {
            "revocations_by_channel": ctx.data["revocations"]["by_channel"],
            "sms_flagged_for_review": ctx.kinds["sms-review"],
        },
    )


@check("C6", "Immediate effect")
async def c6_immediate_effect(ctx: Context) -> Requirement:
    effect = ctx.data["revocations"]
    nxt = effect["next_attempt"]
    revoked = dial_rule(ctx, "revoked-emergency")
    claimed = dial_rule(ctx, "override-claimed")
    return requirement(
        "C6",
        "a revocation blocks the very next attempt of every campaign; emergency only "
        "with an audited override",
        {
            "next_attempt_blocked": nxt["blocked"],
            "next_attempt_allowed_in_violation": nxt["allowed_in_violation"],
            "overrides_recorded": await ctx.store.evidence.overrides(),
            "overrides_in_period": ctx.kinds["override"],
            "emergency_override_calls": sum(
                1 for a in ctx.attempts if a.reason == "emergency-override"
            ),
            "seconds_received_to_recorded": effect["seconds_received_to_recorded"],
            "emergency_calls_to_revoked_without_override": revoked["violations"],
            "calls_marked_overridden_without_override": claimed["violations"],
            "call_ids": (nxt["call_ids"] + revoked["call_ids"] + claimed["call_ids"])[
                :MAX_EXAMPLES
            ],
        },
        nxt["allowed_in_violation"] + revoked["violations"] + claimed["violations"],
        revoked["unverifiable"] + claimed["unverifiable"],
    )


@check("C7", "Scope")
async def c7_scope(ctx: Context) -> Requirement:
    consent = ctx.data["calls_without_required_consent"]
    revoked_by_purpose = Counter(a.purpose.value for a in ctx.blocked if a.reason == "revoked")
    return requirement(
        "C7",
        "a revocation blocks every non-emergency purpose, whatever campaign it came from",
        {
            "blocked_as_revoked_by_purpose": dict(revoked_by_purpose),
            "calls_without_required_consent": consent["count"],
            "calls_whose_consent_could_not_be_checked": consent["unverifiable"],
        },
        consent["count"],
        consent["unverifiable"],
    )


@check("C10", "Keypress honored at once")
async def c10_keypress(ctx: Context) -> Requirement:
    # every 9 pressed has its keypad revocation, named after the call
    keyed = [a for a in ctx.attempts if a.outcome == "opted-out" or "9" in a.digits]
    refs = await ctx.store.evidence.keypad_revocation_refs(a.id for a in keyed)
    unrecorded = [a.id for a in keyed if a.id not in refs and a.number_hash not in ctx.erased]
    return requirement(
        "C10",
        "every 9 pressed is a keypad revocation named after the call, committed first",
        {
            "calls_with_9": len(keyed),
            "keypad_revocations": ctx.data["revocations"]["by_channel"].get("keypad", 0),
            "nine_without_revocation": len(unrecorded),
            "call_ids": unrecorded[:MAX_EXAMPLES],
        },
        len(unrecorded),
    )
