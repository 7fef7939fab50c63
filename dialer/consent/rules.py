"""Campaign-level compliance rules: what a campaign must carry before it may dial.

These are the checks that depend on the campaign only, not on the number:

* C1  purpose is one of the table; an ``emergency`` campaign names a category
      (closure, safety, health, attendance, other-emergency) and who authorized it.
* C6  a revocation override exists only for ``emergency`` campaigns.
* C12 a campaign window may only *narrow* the default window (08:00-21:00;
      ``telemarketing`` 08:00-20:00, the strictest state rule).
* C13 the residential exemption (calls without consent, capped) is only for
      ``informational`` campaigns.
* C14 the caller ID is on the organisation's allowlist.
* C15 a ``telemarketing`` campaign has a national DNC copy at most 31 days old.

``validate_campaign`` raises ``ComplianceError`` naming the C-number (used when
a campaign is created or started); ``campaign_block`` returns the same verdict
as a gate ``Decision`` (the gate re-checks before every attempt, C2, because a
DNC copy can go stale while a campaign runs).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from dialer.consent.model import (
    DEFAULT_CAPS,
    DEFAULT_WINDOW,
    NATIONAL_DNC_MAX_AGE,
    TELEMARKETING_WINDOW,
    CampaignRules,
    Decision,
    EmergencyCategory,
    FrequencyCap,
    Purpose,
    Reason,
)
from dialer.consent.windows import zone_info
from dialer.errors import ComplianceError, ConfigError

_CATEGORIES = ", ".join(c.value for c in EmergencyCategory)
_PURPOSES = ", ".join(p.value for p in Purpose)


def default_window(purpose: Purpose) -> tuple[dt.time, dt.time]:
    """The widest window a campaign of this purpose may use (C12)."""
    return TELEMARKETING_WINDOW if purpose is Purpose.TELEMARKETING else DEFAULT_WINDOW


@lru_cache(maxsize=256)
def effective_window(purpose: Purpose, start: dt.time, end: dt.time) -> tuple[dt.time, dt.time]:
    """The window the gate enforces: the campaign's, clamped into the purpose default.

    Validation already refuses wider windows; clamping again here means a
    campaign row edited behind our back still cannot widen the window (C12).
    The result may be empty (start >= end): then no time is inside.
    """
    lo, hi = default_window(purpose)
    return max(start, lo), min(end, hi)


def parse_purpose(value: str | Purpose) -> Purpose:
    """C1: the purpose must be one from the table."""
    try:
        return Purpose(value)
    except ValueError:
        raise ComplianceError(
            f"C1: unknown campaign purpose {value!r}; choose one of: {_PURPOSES}"
        ) from None


def parse_category(value: str | EmergencyCategory | None) -> EmergencyCategory | None:
    """C1: an emergency category, if given, must be one of the list."""
    if value is None or value == "":
        return None
    try:
        return EmergencyCategory(value)
    except ValueError:
        raise ComplianceError(
            f"C1: unknown emergency category {value!r}; choose one of: {_CATEGORIES}"
        ) from None


def dnc_list_age(as_of: dt.date, now: dt.datetime) -> dt.timedelta:
    """Age of a national DNC copy at ``now`` (UTC calendar days)."""
    utc = now if now.tzinfo is dt.UTC else now.astimezone(dt.UTC)
    return utc.date() - as_of


def dnc_list_stale(as_of: dt.date | None, now: dt.datetime) -> bool:
    """C15: no copy, or one older than ``NATIONAL_DNC_MAX_AGE`` (31 days) at ``now``."""
    return as_of is None or dnc_list_age(as_of, now) > NATIONAL_DNC_MAX_AGE


def validate_campaign(
    purpose: str | Purpose,
    category: str | EmergencyCategory | None,
    authorized_by: str | None,
    window_start: dt.time | None = None,
    window_end: dt.time | None = None,
    caller_id_allowed: bool = True,
    *,
    national_dnc_as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    revocation_override: bool = False,
    residential_exemption: bool = False,
    fallback_timezone: str | None = None,
    caps: tuple[FrequencyCap, ...] = DEFAULT_CAPS,
) -> None:
    """Refuse a campaign the rules do not allow; the message names the C-number.

    ``now`` is the moment the campaign starts: only then is the national DNC
    copy's age checked (C15); without ``now`` only its presence is not required
    (a campaign may be created before the list is imported).
    """
    p = parse_purpose(purpose)
    cat = parse_category(category)
    if p is Purpose.EMERGENCY:
        if cat is None:
            raise ComplianceError(
                f"C1: an emergency campaign needs a category (--category: {_CATEGORIES})"
            )
        if not authorized_by or not authorized_by.strip():
            raise ComplianceError(
                "C1: an emergency campaign needs who authorized it (--authorized-by)"
            )
    elif cat is not None:
        raise ComplianceError(f"C1: --category is only for emergency campaigns, not {p.value}")
    if revocation_override and p is not Purpose.EMERGENCY:
        raise ComplianceError("C6: a revocation override is only possible for emergency campaigns")
    if residential_exemption and p is not Purpose.INFORMATIONAL:
        raise ComplianceError(
            "C13: the residential exemption applies to informational campaigns only"
        )
    _validate_window(p, window_start, window_end)
    _validate_caps(caps)
    if not caller_id_allowed:
        raise ComplianceError(
            "C14: the caller ID is not on the organisation's allowlist of numbers it "
            "owns that accept do-not-call requests; use an allowlisted caller ID"
        )
    if p is Purpose.TELEMARKETING and now is not None:
        _validate_dnc_copy(national_dnc_as_of, now)
    if fallback_timezone is not None:
        try:
            zone_info(fallback_timezone)
        except ConfigError as exc:
            raise ComplianceError(str(exc)) from None


def _validate_window(p: Purpose, start: dt.time | None, end: dt.time | None) -> None:
    lo, hi = default_window(p)
    start = lo if start is None else start
    end = hi if end is None else end
    shown = f"{start:%H:%M}-{end:%H:%M}"
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ComplianceError(
            f"C12: window {shown} must be plain local times (the callee's local time)"
        )
    if start >= end:
        raise ComplianceError(f"C12: window {shown} is empty (start must be before end)")
    if start < lo or end > hi:
        raise ComplianceError(
            f"C12: a {p.value} campaign window can only narrow {lo:%H:%M}-{hi:%H:%M} "
            f"(callee's local time); {shown} is wider"
        )


def _validate_caps(caps: tuple[FrequencyCap, ...]) -> None:
    """C13: operators may configure caps tighter, never looser than the defaults."""
    for cap in caps:
        if cap.max_calls < 0 or cap.window <= dt.timedelta(0):
            raise ComplianceError(
                f"C13: a frequency cap needs max_calls >= 0 and a positive window, got {cap}"
            )
    for default in DEFAULT_CAPS:
        if not any(_at_least_as_strict(cap, default) for cap in caps):
            raise ComplianceError(
                f"C13: the caps must include one at least as strict as "
                f"{default.max_calls} calls per {default.window}"
                f"{' without consent' if default.without_consent_only else ''}"
            )


def _at_least_as_strict(cap: FrequencyCap, default: FrequencyCap) -> bool:
    covers_purposes = not cap.purposes or (
        bool(default.purposes) and default.purposes <= cap.purposes
    )
    covers_calls = not cap.without_consent_only or default.without_consent_only
    return (
        covers_purposes
        and covers_calls
        and cap.max_calls <= default.max_calls
        and cap.window >= default.window
    )


def _validate_dnc_copy(as_of: dt.date | None, now: dt.datetime) -> None:
    if as_of is None:
        raise ComplianceError(
            "C15: a telemarketing campaign needs an imported national do-not-call list; "
            "none has been imported"
        )
    age = dnc_list_age(as_of, now)
    if age > NATIONAL_DNC_MAX_AGE:
        raise ComplianceError(
            f"C15: the national do-not-call list is as of {as_of.isoformat()}, "
            f"{age.days} days old (more than {NATIONAL_DNC_MAX_AGE.days}); import a fresh copy"
        )


def campaign_block(rules: CampaignRules, now: dt.datetime) -> Decision | None:
    """The gate's campaign-level checks (C14, C1, C15), in that order; None if all pass."""
    if not rules.caller_id_allowed:
        return Decision(
            False, Reason.CALLER_ID_NOT_ALLOWED, "C14: caller ID not on the allowlist", False
        )
    purpose = rules.purpose
    if purpose is Purpose.EMERGENCY and (
        rules.emergency_category is None
        or not rules.authorized_by
        or not rules.authorized_by.strip()
    ):
        return Decision(
            False,
            Reason.EMERGENCY_DETAILS_MISSING,
            "C1: emergency campaign lacks category or authorizer",
            False,
        )
    if purpose is Purpose.TELEMARKETING and dnc_list_stale(rules.national_dnc_as_of, now):
        as_of = rules.national_dnc_as_of
        shown = "none imported" if as_of is None else f"as of {as_of.isoformat()}"
        return Decision(
            False,
            Reason.DNC_LIST_STALE,
            f"C15: national DNC list {shown}, max age {NATIONAL_DNC_MAX_AGE.days} days",
            False,
        )
    return None


def check_can_start(rules: CampaignRules, now: dt.datetime) -> None:
    """Raise ``ComplianceError`` if a campaign with these rules may not start now.

    The window is checked as the gate enforces it (clamped into the purpose's
    default, see ``effective_window``): ``CampaignRules`` defaults to
    08:00-21:00 even for telemarketing, so only an *empty* window is refused
    here; a wider window given explicitly is refused by ``validate_campaign``
    when the campaign is created.
    """
    start, end = effective_window(rules.purpose, rules.window_start, rules.window_end)
    validate_campaign(
        rules.purpose,
        rules.emergency_category,
        rules.authorized_by,
        start,
        end,
        rules.caller_id_allowed,
        national_dnc_as_of=rules.national_dnc_as_of,
        now=now,
        revocation_override=rules.revocation_override,
        residential_exemption=rules.residential_exemption,
        fallback_timezone=rules.fallback_timezone,
        caps=rules.caps,
    )
