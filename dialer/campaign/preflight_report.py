"""The preflight report: figures and warnings from a finished tally (pure; see preflight.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dialer.campaign.preflight import PreflightTally
from dialer.consent.model import Purpose
from dialer.consent.rules import dnc_list_stale

#: what we assume a callee takes to answer (seconds); the duration is an estimate
ASSUMED_ANSWER_S = 8.0
#: seconds the player keeps listening for a 9 after the message (broadcast.LISTEN_AFTER_MS)
LISTEN_AFTER_S = 4.0
#: warn when the start is before this hour or at/after ``LATE_HOUR`` (organisation's zone)
EARLY_HOUR = 7
LATE_HOUR = 20
#: warn when the start is further ahead than this
FAR_AHEAD = dt.timedelta(hours=12)
#: a start this far in the past is "now" typed slowly, not a mistake
PAST_TOLERANCE = dt.timedelta(minutes=2)
#: warn when a non-emergency campaign reaches more than this share of every number stored
WHOLE_DISTRICT_SHARE = 0.9
#: warn when more than this share of the contacts is blocked at the start time
MOSTLY_BLOCKED_SHARE = 0.5


@dataclass(frozen=True)
class LanguageCheck:
    """The message as contacts of one language hear it (measured by the shell)."""

    language: str
    #: language of the body they hear (differs from ``language`` on a fallback)
    heard: str
    fallbacks: tuple[str, ...] = ()
    live_seconds: float | None = None
    voicemail_seconds: float | None = None
    #: C-number -> (passed, detail); C8, C9, C10, C11
    checks: Mapping[str, tuple[bool, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(passed for passed, _detail in self.checks.values())


@dataclass(frozen=True)
class Context:
    """Facts about the installation and the store the preflight needs besides the list."""

    now: dt.datetime
    organisation_timezone: str
    calls_per_second: float
    max_concurrent: int
    #: distinct numbers over every list in the store (the 90% warning)
    store_numbers: int
    #: None: unknown (the campaign predates list fingerprints)
    list_changed: bool | None
    national_dnc_as_of: dt.date | None
    #: "not-required", "approved by NAME", "required" (see approval.py)
    approval: Mapping[str, Any] = field(default_factory=dict)
    #: the campaign's calls: one per number, the guardians' phones --phones chooses
    households: int | None = None


@dataclass(frozen=True)
class PreflightWarning:
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def expected_duration(
    calls: int, seconds_per_call: float, calls_per_second: float, max_concurrent: int
) -> tuple[float, str]:
    """(seconds, what limits the pace) to place ``calls`` calls and hear the last one out."""
    if calls <= 0:
        return 0.0, "nothing to call"
    by_concurrency = max_concurrent / max(seconds_per_call, 0.001)
    if by_concurrency < calls_per_second:
        rate, limit = by_concurrency, "engine.max_concurrent"
    else:
        rate, limit = calls_per_second, "engine.calls_per_second"
    return (calls - 1) / rate + seconds_per_call, limit


def build_report(
    tally: PreflightTally, checks: Mapping[str, LanguageCheck], ctx: Context
) -> dict[str, Any]:
    """The preflight as plain data (the CLI prints it, ``--json`` and the web UI show it)."""
    campaign, at = tally.campaign, tally.at
    org_zone = ZoneInfo(ctx.organisation_timezone)
    heard_seconds = [
        (count, checks[lang].live_seconds)
        for lang, count in tally.languages.items()
        if lang in checks and checks[lang].live_seconds is not None
    ]
    weight = sum(count for count, _s in heard_seconds)
    message_s = sum(count * (s or 0.0) for count, s in heard_seconds) / weight if weight else 0.0
    per_call = ASSUMED_ANSWER_S + message_s + LISTEN_AFTER_S
    seconds, limit = expected_duration(
        tally.allowed, per_call, ctx.calls_per_second, ctx.max_concurrent
    )
    zones = sorted(
        tally.zone_groups.values(),
        key=lambda g: (g.opens_at is None, g.opens_at or at, g.zones),
    )
    report: dict[str, Any] = {
        "campaign": campaign.name,
        "purpose": campaign.purpose.value,
        "list": campaign.list_name,
        "start_at": _instant(at, org_zone),
        "evaluated_at": _instant(ctx.now, org_zone),
        "window": f"{tally.rules.window_start:%H:%M}-{tally.rules.window_end:%H:%M}",
        "contacts": {
            "in_list": tally.list_contacts,
            "finished_already": tally.finished,
            "to_call": tally.pending,
            "allowed_at_start": tally.allowed,
            "blocked_at_start": tally.pending - tally.allowed,
        },
        "numbers": {
            "to_call": len(tally.numbers_pending),
            "allowed_at_start": len(tally.numbers_allowed),
            "shared_by_several_contacts": len(tally.shared_numbers),
        },
        "households": ctx.households,
        "blocked": dict(sorted(tally.blocked.items(), key=lambda kv: (-kv[1], kv[0]))),
        "outside_window": [
            {
                "zones": list(g.zones),
                "contacts": g.contacts,
                "opens_at": _instant(g.opens_at, org_zone) if g.opens_at else None,
                "opens_local": (
                    [f"{g.opens_at.astimezone(ZoneInfo(z)):%a %H:%M} {z}" for z in g.zones]
                    if g.opens_at
                    else []
                ),
            }
            for g in zones
        ],
        "duration": {
            "calls": tally.allowed,
            "expected_seconds": round(seconds, 1),
            "seconds_per_call": round(per_call, 1),
            "calls_per_second": ctx.calls_per_second,
            "max_concurrent": ctx.max_concurrent,
            "limited_by": limit,
            "max_attempts": campaign.max_attempts,
            "retry_delay_seconds": campaign.retry_delay,
        },
        "languages": [
            {
                "language": lang,
                "contacts": count,
                "hears": checks[lang].heard if lang in checks else None,
                "fallbacks": list(checks[lang].fallbacks) if lang in checks else [],
            }
            for lang, count in sorted(tally.languages.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "message": [
            {
                "language": check.language,
                "live_seconds": check.live_seconds,
                "voicemail_seconds": check.voicemail_seconds,
                "checks": {
                    c: {"ok": passed, "detail": detail}
                    for c, (passed, detail) in sorted(check.checks.items(), key=_c_order)
                },
                "ok": check.ok,
            }
            for check in sorted(checks.values(), key=lambda c: c.language)
        ],
        "templates": _templates(tally),
        "approval": dict(ctx.approval),
    }
    report["warnings"] = [w.to_json() for w in warnings_for(tally, checks, ctx)]
    report["ready"] = all(c.ok for c in checks.values()) and bool(checks)
    return report


def _templates(tally: PreflightTally) -> dict[str, Any] | None:
    if tally.template is None:
        return None
    texts = sorted(tally.texts.items(), key=lambda kv: (-kv[1].contacts, kv[1].language, kv[0]))
    return {
        "template": tally.template.name,
        "distinct_texts": len(tally.texts) + len(tally.more_texts),
        "texts": [
            {
                "id": key,
                "language": t.language,
                "contacts": t.contacts,
                "text": t.text,
                "example_contact": t.example,
            }
            for key, t in texts
        ],
        "texts_not_listed": len(tally.more_texts),
        "contacts_missing_fields": tally.missing_contacts,
        "missing_by_field": dict(sorted(tally.missing_by_field.items())),
    }


def warnings_for(
    tally: PreflightTally,
    checks: Mapping[str, LanguageCheck],
    ctx: Context,
) -> list[PreflightWarning]:
    out: list[PreflightWarning] = []
    at, now = tally.at, ctx.now
    org_zone = ZoneInfo(ctx.organisation_timezone)
    local = at.astimezone(org_zone)
    if local.hour < EARLY_HOUR or local.hour >= LATE_HOUR:
        out.append(
            PreflightWarning(
                "unusual-hour",
                f"the start is at {local:%H:%M} in {ctx.organisation_timezone} "
                f"(before {EARLY_HOUR:02d}:00 or from {LATE_HOUR:02d}:00 on): "
                "is it A.M. and P.M. as meant?",
            )
        )
    if at < now - PAST_TOLERANCE:
        out.append(
            PreflightWarning("start-in-past", f"the start ({local:%Y-%m-%d %H:%M}) is in the past")
        )
    elif at - now > FAR_AHEAD:
        hours = (at - now).total_seconds() / 3600
        out.append(
            PreflightWarning(
                "start-far-ahead",
                f"the start is {hours:.0f} hours from now (more than "
                f"{FAR_AHEAD.total_seconds() / 3600:.0f}): check the date",
            )
        )
    reach = len(tally.numbers_pending)
    if (
        tally.campaign.purpose is not Purpose.EMERGENCY
        and ctx.store_numbers
        and reach > WHOLE_DISTRICT_SHARE * ctx.store_numbers
    ):
        out.append(
            PreflightWarning(
                "most-of-district",
                f"this {tally.campaign.purpose.value} campaign reaches {reach} of the "
                f"{ctx.store_numbers} numbers stored ({100 * reach / ctx.store_numbers:.0f}%): "
                "is the list the one meant?",
            )
        )
    if ctx.list_changed:
        out.append(
            PreflightWarning(
                "list-changed",
                f"list {tally.campaign.list_name!r} changed since the campaign was created",
            )
        )
    if tally.campaign.purpose is Purpose.TELEMARKETING and dnc_list_stale(
        ctx.national_dnc_as_of, at
    ):
        shown = (
            f"as of {ctx.national_dnc_as_of.isoformat()}"
            if ctx.national_dnc_as_of
            else "never imported"
        )
        out.append(
            PreflightWarning(
                "dnc-stale",
                f"C15: the national do-not-call copy ({shown}) is older than 31 days at the "
                "start: the campaign cannot start; import a fresh copy",
            )
        )
    if tally.shared_numbers:
        out.append(
            PreflightWarning(
                "shared-numbers",
                f"{len(tally.shared_numbers)} number(s) belong to several contacts: each "
                "number is called once, for all of them (one call per household)",
            )
        )
    if tally.pending and (tally.pending - tally.allowed) > MOSTLY_BLOCKED_SHARE * tally.pending:
        out.append(
            PreflightWarning(
                "mostly-blocked",
                f"{tally.pending - tally.allowed} of {tally.pending} contacts are blocked at "
                "the start time",
            )
        )
    if tally.missing_contacts:
        fields = ", ".join(f"{k} ({v})" for k, v in sorted(tally.missing_by_field.items()))
        out.append(
            PreflightWarning(
                "template-field-missing",
                f"{tally.missing_contacts} contact(s) miss a template field ({fields}): "
                "they are blocked from this campaign",
            )
        )
    fallback_langs = [c.language for c in checks.values() if c.fallbacks]
    if fallback_langs:
        out.append(
            PreflightWarning(
                "language-fallback",
                f"contacts speaking {', '.join(sorted(fallback_langs))} hear parts in the "
                "default language",
            )
        )
    for check in checks.values():
        for c_number, (passed, detail) in sorted(check.checks.items()):
            if not passed:
                out.append(
                    PreflightWarning(f"{c_number.lower()}-failed", f"{check.language}: {detail}")
                )
    if ctx.approval.get("required") and not ctx.approval.get("approved_by"):
        out.append(
            PreflightWarning(
                "approval-missing",
                "a second operator must run 'dialer campaign approve "
                f"{tally.campaign.name}' before it can start",
            )
        )
    if tally.pending and not tally.allowed and not tally.zone_groups:
        out.append(PreflightWarning("nobody-to-call", "no contact can be called at the start time"))
    return out


def _c_order(item: tuple[str, object]) -> tuple[int, str]:
    """C8 before C10 (numeric order), then anything else."""
    code = item[0]
    return (int(code[1:]), code) if code[1:].isdigit() else (1000, code)


def _instant(moment: dt.datetime, zone: ZoneInfo) -> dict[str, str]:
    return {
        "utc": moment.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "local": moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
    }
