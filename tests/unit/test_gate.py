"""Unit tests of the pure consent gate (C1, C2, C6, C7, C12-C17).

Pure functions, no I/O: nothing to mock. The big matrix compares the gate
against an independent oracle written here as a plain table of expectations
(consent states are described by which kinds of consent are live, window
positions by local wall-clock times with a hard-coded UTC offset), so the test
does not share logic with the gate.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

import pytest

from dialer.consent.gate import call_needs_consent, decide, has_live_consent
from dialer.consent.model import (
    ALLOWING_REASONS,
    DEFAULT_CAPS,
    CallFact,
    CampaignRules,
    ConsentFact,
    Decision,
    EmergencyCategory,
    FrequencyCap,
    NumberFacts,
    Purpose,
    Reason,
)
from dialer.consent.rules import (
    campaign_block,
    check_can_start,
    effective_window,
    parse_purpose,
    validate_campaign,
)
from dialer.errors import ComplianceError, InputError

UTC = dt.UTC
NY = "+12125550123"  # New York only; June: EDT = UTC-4
NY_DIGITS = NY.lstrip("+")
DAY = dt.date(2026, 6, 10)  # a summer Wednesday, no DST change near
EDT = dt.timedelta(hours=4)
E, S, I, T = Purpose.EMERGENCY, Purpose.SCHOOL, Purpose.INFORMATIONAL, Purpose.TELEMARKETING  # noqa: E741


def ny_summer(h: int, m: int = 0, s: int = 0) -> dt.datetime:
    """The UTC instant at which New York's wall clock shows h:m:s on DAY (EDT, fixed offset)."""
    return dt.datetime.combine(DAY, dt.time(h, m, s), tzinfo=UTC) + EDT


def rules_for(purpose: Purpose, **kw: object) -> CampaignRules:
    base: dict[str, object] = {}
    if purpose is E:
        base.update(emergency_category=EmergencyCategory.CLOSURE, authorized_by="Dr. Ruiz")
    if purpose is T:
        base.update(national_dnc_as_of=DAY)
    base.update(kw)
    return CampaignRules(purpose, **base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# The matrix
# ---------------------------------------------------------------------------

#: consent states: (revoked?, live kinds after the revocation / ever if not revoked)
#: kinds: "plain" = scope of the campaign's purpose, not written; "written" = same
#: scope and written; "other" = another scope (written).
CONSENT_STATES: dict[str, tuple[bool, frozenset[str]]] = {
    "none": (False, frozenset()),
    "live": (False, frozenset({"plain"})),
    "live_written": (False, frozenset({"plain", "written"})),
    "wrong_scope": (False, frozenset({"other"})),
    "revoked": (True, frozenset()),
    "reconsented": (True, frozenset({"plain"})),
    "reconsented_written": (True, frozenset({"plain", "written"})),
    "revoked_then_wrong_scope": (True, frozenset({"other"})),
}

#: local wall-clock times in New York
WINDOW_TIMES = {
    "before": dt.time(7, 59, 59),
    "at_start": dt.time(8, 0),
    "midday": dt.time(12, 0),
    "tm_end_minus_1s": dt.time(19, 59, 59),
    "at_tm_end": dt.time(20, 0),
    "end_minus_1s": dt.time(20, 59, 59),
    "at_end": dt.time(21, 0),
}

#: cap states: calls already placed, as (age, with_consent) pairs
CAP_STATES: dict[str, tuple[tuple[dt.timedelta, bool], ...]] = {
    "none": (),
    "under": ((dt.timedelta(hours=2), False), (dt.timedelta(hours=20), False)),
    "at_24h_without": tuple((dt.timedelta(hours=h), False) for h in (1, 5, 23)),
    "at_24h_with": tuple((dt.timedelta(hours=h), True) for h in (1, 5, 23)),
    "at_30d_without": tuple((dt.timedelta(days=d), False) for d in (2, 10, 29)),
    "old": tuple((dt.timedelta(days=d), False) for d in (31, 32, 40, 45, 50)),
}

DNC_STATES = ("none", "company", "national")

OTHER_SCOPE = {E: S, S: I, I: S, T: S}


def build_facts(
    purpose: Purpose, state: str, cap_state: str, dnc: str, now: dt.datetime
) -> NumberFacts:
    revoked, kinds = CONSENT_STATES[state]
    revoked_at = now - dt.timedelta(days=10) if revoked else None
    consents = []
    scope = purpose if purpose is not E else S
    if revoked:
        # the revoked consent: every kind existed before the revocation
        consents.append(ConsentFact(scope, now - dt.timedelta(days=100), written=True))
        consents.append(ConsentFact(OTHER_SCOPE[purpose], now - dt.timedelta(days=90), True))
    after = now - dt.timedelta(days=5)
    if "written" in kinds:
        consents.append(ConsentFact(scope, after, written=True))
    elif "plain" in kinds:
        consents.append(ConsentFact(scope, after, written=False))
    if "other" in kinds:
        consents.append(ConsentFact(OTHER_SCOPE[purpose], after, written=True))
    calls = tuple(CallFact(now - age, S, with_consent=wc) for age, wc in CAP_STATES[cap_state])
    return NumberFacts(
        consents=tuple(consents),
        revoked_at=revoked_at,
        company_dnc=dnc == "company",
        national_dnc=dnc == "national",
        recent_calls=calls,
    )


def oracle(
    purpose: Purpose,
    state: str,
    local: dt.time,
    cap_state: str,
    override: bool,
    exemption: bool,
    dnc: str,
) -> tuple[Reason, bool]:
    """The expected (reason, with_consent), straight from COMPLIANCE.md and the brief."""
    revoked, kinds = CONSENT_STATES[state]
    needed = {E: bool(kinds), S: "plain" in kinds, I: "plain" in kinds, T: "written" in kinds}
    satisfied = needed[purpose]
    used_override = False
    if revoked and not satisfied:
        if purpose is not E or not override:
            return Reason.REVOKED, False
        used_override = True
    if dnc == "company":
        if purpose is not E or not override:
            return Reason.DNC_COMPANY, False
        used_override = True
    if dnc == "national" and purpose is T:
        return Reason.DNC_NATIONAL, False
    if purpose is E:
        with_consent = satisfied
    elif satisfied:
        with_consent = True
    elif purpose is I and exemption:
        with_consent = False
    elif purpose is T:
        return Reason.NO_WRITTEN_CONSENT, False
    else:
        return Reason.NO_CONSENT, False
    if purpose is not E:
        end = dt.time(20) if purpose is T else dt.time(21)
        if not dt.time(8) <= local < end:
            return Reason.OUTSIDE_WINDOW, with_consent
    calls = CAP_STATES[cap_state]
    in_24h = sum(1 for age, _ in calls if age <= dt.timedelta(hours=24))
    without_30d = sum(1 for age, wc in calls if age <= dt.timedelta(days=30) and not wc)
    if purpose is T and in_24h >= 3:
        return Reason.FREQUENCY_CAP, with_consent
    # the residential exemption's cap; emergency calls are exempt on their own ground
    if purpose is I and not with_consent and without_30d >= 3:
        return Reason.FREQUENCY_CAP, with_consent
    return (Reason.EMERGENCY_OVERRIDE if used_override else Reason.ALLOWED), with_consent


@pytest.mark.parametrize("state", list(CONSENT_STATES))
@pytest.mark.parametrize("purpose", list(Purpose))
def test_c2_gate_matrix_matches_oracle(purpose: Purpose, state: str) -> None:
    """Every purpose x consent state x window x cap x override x exemption x DNC."""
    mismatches = []
    combos = itertools.product(
        WINDOW_TIMES.items(), CAP_STATES, (False, True), (False, True), DNC_STATES
    )
    n = 0
    for (wname, local), cap_state, override, exemption, dnc in combos:
        now = ny_summer(local.hour, local.minute, local.second)
        facts = build_facts(purpose, state, cap_state, dnc, now)
        rules = rules_for(purpose, revocation_override=override, residential_exemption=exemption)
        got = decide(NY, facts, rules, now)
        want_reason, want_wc = oracle(purpose, state, local, cap_state, override, exemption, dnc)
        n += 1
        ok = got.reason is want_reason and got.allowed == (want_reason in ALLOWING_REASONS)
        if ok and got.allowed:
            ok = got.with_consent == want_wc
        if not ok:
            mismatches.append(
                f"{wname} cap={cap_state} override={override} exemption={exemption} "
                f"dnc={dnc}: got {got}, want {want_reason} with_consent={want_wc}"
            )
        assert NY_DIGITS[-7:] not in got.detail, "C18: the detail must never hold the number"
        assert got.detail
    assert n == len(WINDOW_TIMES) * len(CAP_STATES) * 2 * 2 * len(DNC_STATES)
    assert not mismatches, f"{len(mismatches)} of {n} wrong, e.g.:\n" + "\n".join(mismatches[:10])


def test_matrix_oracle_is_not_trivial() -> None:
    """The oracle produces every reason the matrix can reach (so the matrix can fail)."""
    seen = set()
    for purpose, state, local, cap, ov, ex, dnc in itertools.product(
        Purpose, CONSENT_STATES, WINDOW_TIMES.values(), CAP_STATES, (0, 1), (0, 1), DNC_STATES
    ):
        seen.add(oracle(purpose, state, local, cap, bool(ov), bool(ex), dnc)[0])
    assert seen == set(Reason) - {
        Reason.CALLER_ID_NOT_ALLOWED,
        Reason.EMERGENCY_DETAILS_MISSING,
        Reason.DNC_LIST_STALE,
        Reason.ERASED,
        Reason.WRONG_PARTY,
        Reason.TEMPLATE_FIELD_MISSING,  # the runner's, not the gate's (campaign/personal.py)
    }


# ---------------------------------------------------------------------------
# One test per requirement (pytest -k cN)
# ---------------------------------------------------------------------------

NOON = ny_summer(12)
SCHOOL_CONSENT = ConsentFact(S, NOON - dt.timedelta(days=365))


def test_c1_emergency_without_category_or_authorizer_is_blocked() -> None:
    facts = NumberFacts(consents=(SCHOOL_CONSENT,))
    for kw in (
        {"emergency_category": None},
        {"authorized_by": None},
        {"authorized_by": "   "},
    ):
        d = decide(NY, facts, rules_for(E, **kw), NOON)
        assert (d.allowed, d.reason) == (False, Reason.EMERGENCY_DETAILS_MISSING), kw
        assert d.detail.startswith("C1")
    assert decide(NY, facts, rules_for(E), NOON).reason is Reason.ALLOWED


def test_c1_category_is_not_needed_for_other_purposes() -> None:
    facts = NumberFacts(consents=(SCHOOL_CONSENT,))
    assert decide(NY, facts, rules_for(S), NOON).allowed


def test_c2_decision_is_pure_and_repeatable() -> None:
    facts = NumberFacts(consents=(SCHOOL_CONSENT,), recent_calls=(CallFact(NOON, S),))
    rules = rules_for(S)
    first = decide(NY, facts, rules, NOON)
    assert all(decide(NY, facts, rules, NOON) == first for _ in range(100))
    assert isinstance(first, Decision) and first.reason in set(Reason)


def test_c2_naive_now_is_refused() -> None:
    with pytest.raises(InputError):
        decide(NY, NumberFacts(), rules_for(S), NOON.replace(tzinfo=None))


def test_c6_revocation_blocks_the_next_attempt_immediately() -> None:
    revoked = NumberFacts(consents=(SCHOOL_CONSENT,), revoked_at=NOON - dt.timedelta(seconds=1))
    assert decide(NY, NumberFacts(consents=(SCHOOL_CONSENT,)), rules_for(S), NOON).allowed
    d = decide(NY, revoked, rules_for(S), NOON)
    assert (d.allowed, d.reason) == (False, Reason.REVOKED)


def test_c6_revoked_number_blocked_for_emergency_without_override() -> None:
    revoked = NumberFacts(consents=(SCHOOL_CONSENT,), revoked_at=NOON - dt.timedelta(days=1))
    d = decide(NY, revoked, rules_for(E), NOON)
    assert (d.allowed, d.reason) == (False, Reason.REVOKED)
    d = decide(NY, revoked, rules_for(E, revocation_override=True), NOON)
    assert (d.allowed, d.reason, d.with_consent) == (True, Reason.EMERGENCY_OVERRIDE, False)


def test_c6_override_does_not_help_non_emergency() -> None:
    revoked = NumberFacts(consents=(SCHOOL_CONSENT,), revoked_at=NOON - dt.timedelta(days=1))
    for p in (S, I, T):
        d = decide(NY, revoked, rules_for(p, revocation_override=True), NOON)
        assert d.reason is Reason.REVOKED, p


def test_c6_revocation_dated_after_now_still_blocks() -> None:
    """Clock skew between the writer and the gate must not let a call through."""
    facts = NumberFacts(consents=(SCHOOL_CONSENT,), revoked_at=NOON + dt.timedelta(minutes=5))
    assert decide(NY, facts, rules_for(S), NOON).reason is Reason.REVOKED


def test_c7_revocation_blocks_every_non_emergency_purpose() -> None:
    """A revocation from any campaign applies to all non-emergency purposes."""
    consents = (
        ConsentFact(S, NOON - dt.timedelta(days=30)),
        ConsentFact(I, NOON - dt.timedelta(days=30)),
        ConsentFact(T, NOON - dt.timedelta(days=30), written=True),
    )
    facts = NumberFacts(consents=consents, revoked_at=NOON - dt.timedelta(days=2))
    for p in (S, I, T):
        assert decide(NY, facts, rules_for(p), NOON).reason is Reason.REVOKED, p
        assert decide(NY, replace(facts, revoked_at=None), rules_for(p), NOON).allowed, p
    # the residential exemption does not lift a revocation either
    assert decide(NY, facts, rules_for(I, residential_exemption=True), NOON).reason is (
        Reason.REVOKED
    )


def test_c7_reconsent_lifts_revocation_only_for_its_scope() -> None:
    revoked_at = NOON - dt.timedelta(days=10)
    facts = NumberFacts(
        consents=(SCHOOL_CONSENT, ConsentFact(I, revoked_at + dt.timedelta(days=1))),
        revoked_at=revoked_at,
    )
    assert decide(NY, facts, rules_for(I), NOON).allowed
    assert decide(NY, facts, rules_for(S), NOON).reason is Reason.REVOKED


def test_c7_consent_at_the_same_instant_as_the_revocation_is_not_a_reconsent() -> None:
    revoked_at = NOON - dt.timedelta(days=10)
    facts = NumberFacts(consents=(ConsentFact(S, revoked_at),), revoked_at=revoked_at)
    assert not has_live_consent(facts, S)
    assert decide(NY, facts, rules_for(S), NOON).reason is Reason.REVOKED


def test_c12_window_start_inclusive_end_exclusive() -> None:
    facts = NumberFacts(consents=(SCHOOL_CONSENT,))
    assert decide(NY, facts, rules_for(S), ny_summer(8)).allowed
    assert decide(NY, facts, rules_for(S), ny_summer(20, 59, 59)).allowed
    d = decide(NY, facts, rules_for(S), ny_summer(21))
    assert (d.allowed, d.reason) == (False, Reason.OUTSIDE_WINDOW)
    assert d.detail == "local time 21:00 in America/New_York, window 08:00-21:00"
    assert decide(NY, facts, rules_for(S), ny_summer(7, 59, 59)).reason is Reason.OUTSIDE_WINDOW


def test_c12_emergency_ignores_the_window() -> None:
    assert decide(NY, NumberFacts(), rules_for(E), ny_summer(3)).allowed


def test_c12_narrowed_window_is_enforced_and_cannot_widen() -> None:
    facts = NumberFacts(consents=(SCHOOL_CONSENT,))
    narrow = rules_for(S, window_start=dt.time(9), window_end=dt.time(17))
    assert decide(NY, facts, narrow, ny_summer(8, 30)).reason is Reason.OUTSIDE_WINDOW
    assert decide(NY, facts, narrow, ny_summer(16, 59)).allowed
    assert decide(NY, facts, narrow, ny_summer(17)).reason is Reason.OUTSIDE_WINDOW
    # a campaign row claiming a wider window is clamped to the default (C12)
    wide = rules_for(S, window_start=dt.time(6), window_end=dt.time(23))
    assert decide(NY, facts, wide, ny_summer(7)).reason is Reason.OUTSIDE_WINDOW
    assert decide(NY, facts, wide, ny_summer(22)).reason is Reason.OUTSIDE_WINDOW


def test_c12_telemarketing_uses_the_stricter_8_to_20_window() -> None:
    facts = NumberFacts(consents=(ConsentFact(T, NOON - dt.timedelta(days=3), written=True),))
    rules = rules_for(T)  # window fields left at the 08:00-21:00 default
    assert decide(NY, facts, rules, ny_summer(19, 59)).allowed
    d = decide(NY, facts, rules, ny_summer(20, 30))
    assert d.reason is Reason.OUTSIDE_WINDOW
    assert d.detail.endswith("window 08:00-20:00")


def _winter_or_dst(year: int, month: int, day: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hh, mm, tzinfo=UTC)


def test_c12_dst_spring_forward_window_opens_at_0800_edt() -> None:
    """2026-03-08: New York jumps 02:00 EST -> 03:00 EDT (07:00 UTC).

    08:00 local is 12:00 UTC that day, not 13:00 UTC as on the day before.
    """
    facts = NumberFacts(consents=(SCHOOL_CONSENT,))
    r = rules_for(S)
    assert decide(NY, facts, r, _winter_or_dst(2026, 3, 7, 12, 59)).reason is (
        Reason.OUTSIDE_WINDOW
    )  # Saturday 07:59 EST
    assert decide(NY, facts, r, _winter_or_dst(2026, 3, 7, 13)).allowed  # 08:00 EST
    d = decide(NY, facts, r, _winter_or_dst(2026, 3, 8, 11, 59))
    assert d.reason is Reason.OUTSIDE_WINDOW
    assert "07:59" in d.detail
    assert decide(NY, facts, r, _winter_or_dst(2026, 3, 8, 12)).allowed  # 08:00 EDT
    # the end edge moves too: 21:00 EDT = 01:00 UTC next day
    assert decide(NY, facts, r, _winter_or_dst(2026, 3, 9, 0, 59)).allowed
    assert decide(NY, facts, r, _winter_or_dst(2026, 3, 9, 1)).reason is Reason.OUTSIDE_WINDOW


def test_c12_dst_fall_back_window_opens_at_0800_est() -> None:
    """2026-11-01: New York falls back 02:00 EDT -> 01:00 EST (06:00 UTC)."""
    facts = NumberFacts(consents=(SCHOOL_CONSENT,))
    r = rules_for(S)
    # 12:00 UTC would be 08:00 under EDT, but it is 07:00 EST now
    d = decide(NY, facts, r, _winter_or_dst(2026, 11, 1, 12))
    assert d.reason is Reason.OUTSIDE_WINDOW
    assert "07:00" in d.detail
    assert decide(NY, facts, r, _winter_or_dst(2026, 11, 1, 12, 59)).reason is (
        Reason.OUTSIDE_WINDOW
    )
    assert decide(NY, facts, r, _winter_or_dst(2026, 11, 1, 13)).allowed  # 08:00 EST
    assert decide(NY, facts, r, _winter_or_dst(2026, 11, 2, 1, 59)).allowed  # 20:59 EST
    assert decide(NY, facts, r, _winter_or_dst(2026, 11, 2, 2)).reason is Reason.OUTSIDE_WINDOW


IDAHO_208 = "+12085550123"  # phonenumbers: America/Boise and America/Los_Angeles


def test_c12_number_spanning_two_zones_needs_window_in_both() -> None:
    """Area code 208 maps to Mountain (Boise) and Pacific (Los Angeles) time."""
    facts = NumberFacts(consents=(SCHOOL_CONSENT,))
    r = rules_for(S)
    # 14:30 UTC in June: Boise 08:30 MDT (inside), Los Angeles 07:30 PDT (outside)
    d = decide(IDAHO_208, facts, r, dt.datetime(2026, 6, 10, 14, 30, tzinfo=UTC))
    assert (d.allowed, d.reason) == (False, Reason.OUTSIDE_WINDOW)
    assert d.detail == "local time 07:30 in America/Los_Angeles, window 08:00-21:00"
    # 03:30 UTC: Boise 21:30 (outside), Los Angeles 20:30 (inside)
    d = decide(IDAHO_208, facts, r, dt.datetime(2026, 6, 11, 3, 30, tzinfo=UTC))
    assert d.reason is Reason.OUTSIDE_WINDOW
    assert "America/Boise" in d.detail
    # 15:00 UTC: 09:00 and 08:00, both inside
    assert decide(IDAHO_208, facts, r, dt.datetime(2026, 6, 10, 15, tzinfo=UTC)).allowed


def test_c12_unknown_zone_uses_the_fallback_timezone() -> None:
    """+1 555 numbers are not valid: phonenumbers gives Etc/Unknown."""
    unknown = "+15555550123"
    facts = NumberFacts(consents=(SCHOOL_CONSENT,))
    at = dt.datetime(2026, 6, 10, 13, tzinfo=UTC)  # 09:00 New York, 06:00 Los Angeles
    assert decide(unknown, facts, rules_for(S), at).allowed
    d = decide(unknown, facts, rules_for(S, fallback_timezone="America/Los_Angeles"), at)
    assert d.reason is Reason.OUTSIDE_WINDOW
    assert "America/Los_Angeles" in d.detail


def test_c13_telemarketing_at_most_3_calls_per_24h_across_campaigns() -> None:
    consent = ConsentFact(T, NOON - dt.timedelta(days=3), written=True)
    two = (CallFact(NOON - dt.timedelta(hours=1), S), CallFact(NOON - dt.timedelta(hours=2), T))
    three = (*two, CallFact(NOON - dt.timedelta(hours=23, minutes=59), I))
    r = rules_for(T)
    assert decide(NY, NumberFacts(consents=(consent,), recent_calls=two), r, NOON).allowed
    d = decide(NY, NumberFacts(consents=(consent,), recent_calls=three), r, NOON)
    assert (d.allowed, d.reason) == (False, Reason.FREQUENCY_CAP)
    assert d.detail == "C13: 3 calls in the last 24 h, cap 3"
    # a call exactly 24 h ago is still inside the rolling window; 24 h + 1 s is not
    edge = (*two, CallFact(NOON - dt.timedelta(hours=24), S))
    assert not decide(NY, NumberFacts(consents=(consent,), recent_calls=edge), r, NOON).allowed
    past = (*two, CallFact(NOON - dt.timedelta(hours=24, seconds=1), S))
    assert decide(NY, NumberFacts(consents=(consent,), recent_calls=past), r, NOON).allowed


def test_c13_residential_exemption_at_most_3_calls_without_consent_per_30_days() -> None:
    r = rules_for(I, residential_exemption=True)
    calls = tuple(CallFact(NOON - dt.timedelta(days=d), I, with_consent=False) for d in (1, 10))
    d = decide(NY, NumberFacts(recent_calls=calls), r, NOON)
    assert (d.allowed, d.with_consent) == (True, False)
    calls = (*calls, CallFact(NOON - dt.timedelta(days=29), S, with_consent=False))
    d = decide(NY, NumberFacts(recent_calls=calls), r, NOON)
    assert d.reason is Reason.FREQUENCY_CAP
    assert "without consent" in d.detail and "30 days" in d.detail
    # the cap does not apply to a call made with consent
    facts = NumberFacts(
        consents=(ConsentFact(I, NOON - dt.timedelta(days=100)),), recent_calls=calls
    )
    d = decide(NY, facts, r, NOON)
    assert (d.allowed, d.with_consent) == (True, True)


def test_c13_emergency_alerts_are_not_dropped_by_the_residential_exemption_cap() -> None:
    calls = tuple(CallFact(NOON - dt.timedelta(days=d), E, with_consent=False) for d in (1, 2, 3))
    d = decide(NY, NumberFacts(recent_calls=calls), rules_for(E), NOON)
    assert d.allowed
    assert not d.with_consent
    facts = NumberFacts(consents=(SCHOOL_CONSENT,), recent_calls=calls)
    assert decide(NY, facts, rules_for(E), NOON).allowed


def test_c13_tighter_configured_cap_and_calls_dated_after_now_count() -> None:
    caps = (*DEFAULT_CAPS, FrequencyCap(1, dt.timedelta(hours=1), frozenset({S})))
    facts = NumberFacts(
        consents=(SCHOOL_CONSENT,), recent_calls=(CallFact(NOON + dt.timedelta(seconds=30), I),)
    )
    d = decide(NY, facts, rules_for(S, caps=caps), NOON)
    assert d.reason is Reason.FREQUENCY_CAP
    assert d.detail == "C13: 1 calls in the last 1 h, cap 1"
    informational = replace(facts, consents=(ConsentFact(I, NOON - dt.timedelta(days=9)),))
    assert decide(NY, informational, rules_for(I, caps=caps), NOON).allowed  # school-only cap


def test_c14_caller_id_not_on_allowlist_blocks_every_purpose_first() -> None:
    erased = NumberFacts(erased=True)
    for p in Purpose:
        d = decide(NY, erased, rules_for(p, caller_id_allowed=False), NOON)
        assert (d.allowed, d.reason) == (False, Reason.CALLER_ID_NOT_ALLOWED), p


def test_c15_stale_or_missing_national_dnc_blocks_telemarketing() -> None:
    facts = NumberFacts(consents=(ConsentFact(T, NOON - dt.timedelta(days=3), written=True),))
    today = NOON.date()
    assert decide(NY, facts, rules_for(T, national_dnc_as_of=today), NOON).allowed
    ok = today - dt.timedelta(days=31)
    assert decide(NY, facts, rules_for(T, national_dnc_as_of=ok), NOON).allowed
    for as_of in (None, today - dt.timedelta(days=32)):
        d = decide(NY, facts, rules_for(T, national_dnc_as_of=as_of), NOON)
        assert (d.allowed, d.reason) == (False, Reason.DNC_LIST_STALE), as_of
    # other purposes do not need the national list
    school = NumberFacts(consents=(SCHOOL_CONSENT,))
    assert decide(NY, school, rules_for(S, national_dnc_as_of=None), NOON).allowed


def test_c15_number_on_national_dnc_blocks_telemarketing_only() -> None:
    facts = NumberFacts(
        consents=(
            SCHOOL_CONSENT,
            ConsentFact(T, NOON - dt.timedelta(days=3), written=True),
        ),
        national_dnc=True,
    )
    assert decide(NY, facts, rules_for(T), NOON).reason is Reason.DNC_NATIONAL
    assert decide(NY, facts, rules_for(S), NOON).allowed


def test_c16_wrong_party_blocks_every_purpose_even_with_override() -> None:
    facts = NumberFacts(consents=(SCHOOL_CONSENT,), wrong_party=True)
    for p in Purpose:
        d = decide(NY, facts, rules_for(p, revocation_override=True), NOON)
        assert (d.allowed, d.reason) == (False, Reason.WRONG_PARTY), p


def test_c17_erased_number_blocks_every_purpose_with_no_override() -> None:
    facts = NumberFacts(
        consents=(ConsentFact(S, NOON - dt.timedelta(days=1)),), erased=True, wrong_party=True
    )
    for p in Purpose:
        d = decide(NY, facts, rules_for(p, revocation_override=True), NOON)
        assert (d.allowed, d.reason) == (False, Reason.ERASED), p


def test_company_dnc_blocks_emergency_unless_override() -> None:
    facts = NumberFacts(company_dnc=True)
    assert decide(NY, facts, rules_for(E), NOON).reason is Reason.DNC_COMPANY
    d = decide(NY, facts, rules_for(E, revocation_override=True), NOON)
    assert (d.allowed, d.reason) == (True, Reason.EMERGENCY_OVERRIDE)


def test_consent_kinds_and_with_consent_flag() -> None:
    plain_tm = NumberFacts(consents=(ConsentFact(T, NOON - dt.timedelta(days=1)),))
    assert decide(NY, plain_tm, rules_for(T), NOON).reason is Reason.NO_WRITTEN_CONSENT
    d = decide(NY, NumberFacts(consents=(SCHOOL_CONSENT,)), rules_for(E), NOON)
    assert (d.reason, d.with_consent) == (Reason.ALLOWED, True)
    d = decide(NY, NumberFacts(), rules_for(E), NOON)
    assert (d.reason, d.with_consent) == (Reason.ALLOWED, False)
    assert not call_needs_consent(E)
    assert all(call_needs_consent(p) for p in (S, I, T))


# ---------------------------------------------------------------------------
# Campaign-level validation (rules.py): refused before the campaign dials
# ---------------------------------------------------------------------------


def test_c1_validate_campaign_needs_purpose_category_and_authorizer() -> None:
    with pytest.raises(ComplianceError, match=r"^C1: unknown campaign purpose 'marketing'"):
        validate_campaign("marketing", None, None)
    with pytest.raises(ComplianceError, match=r"^C1: an emergency campaign needs a category \("):
        validate_campaign("emergency", None, "Dr. Ruiz")
    with pytest.raises(ComplianceError, match=r"^C1: unknown emergency category 'fire'"):
        validate_campaign("emergency", "fire", "Dr. Ruiz")
    with pytest.raises(ComplianceError, match=r"^C1: an emergency campaign needs who authorized"):
        validate_campaign("emergency", "closure", "  ")
    with pytest.raises(ComplianceError, match=r"^C1: --category is only for emergency"):
        validate_campaign("school", "closure", None)
    validate_campaign("emergency", "other-emergency", "Dr. Ruiz")
    validate_campaign(S, None, None)
    assert parse_purpose("telemarketing") is T


def test_c6_validate_override_only_for_emergency() -> None:
    with pytest.raises(ComplianceError, match=r"^C6"):
        validate_campaign("school", None, None, revocation_override=True)
    validate_campaign("emergency", "safety", "Principal", revocation_override=True)


def test_c12_validate_window_can_only_narrow() -> None:
    validate_campaign("school", None, None, dt.time(9), dt.time(17))
    validate_campaign("telemarketing", None, None, dt.time(8), dt.time(20))
    with pytest.raises(ComplianceError, match=r"^C12: a school campaign window can only narrow"):
        validate_campaign("school", None, None, dt.time(7, 30), dt.time(17))
    with pytest.raises(ComplianceError, match=r"08:00-20:00.*08:00-21:00 is wider"):
        validate_campaign("telemarketing", None, None, dt.time(8), dt.time(21))
    with pytest.raises(ComplianceError, match=r"^C12: window 17:00-09:00 is empty"):
        validate_campaign("school", None, None, dt.time(17), dt.time(9))
    assert effective_window(T, dt.time(7), dt.time(21)) == (dt.time(8), dt.time(20))
    # a stored telemarketing row whose window clamps to nothing cannot start
    empty = rules_for(T, window_start=dt.time(20), window_end=dt.time(21))
    with pytest.raises(ComplianceError, match=r"^C12: window 20:00-20:00 is empty"):
        check_can_start(empty, NOON)
    assert effective_window(S, dt.time(9), dt.time(22)) == (dt.time(9), dt.time(21))


def test_c13_validate_caps_only_tighter_and_exemption_only_informational() -> None:
    with pytest.raises(ComplianceError, match=r"^C13: the residential exemption"):
        validate_campaign("school", None, None, residential_exemption=True)
    validate_campaign("informational", None, None, residential_exemption=True)
    tighter = (
        FrequencyCap(2, dt.timedelta(hours=48)),
        FrequencyCap(1, dt.timedelta(days=60), without_consent_only=True),
    )
    validate_campaign("school", None, None, caps=tighter)
    looser = (FrequencyCap(5, dt.timedelta(hours=24), frozenset({T})), DEFAULT_CAPS[1])
    with pytest.raises(ComplianceError, match=r"^C13: the caps must include"):
        validate_campaign("school", None, None, caps=looser)


def test_c14_validate_refuses_caller_id_not_on_allowlist() -> None:
    with pytest.raises(ComplianceError, match=r"^C14: the caller ID is not on"):
        validate_campaign("school", None, None, caller_id_allowed=False)


def test_c15_check_can_start_refuses_stale_or_missing_national_dnc() -> None:
    now = NOON
    fresh = rules_for(T, national_dnc_as_of=now.date() - dt.timedelta(days=31))
    check_can_start(fresh, now)
    with pytest.raises(ComplianceError, match=r"^C15: .*32 days old"):
        check_can_start(replace(fresh, national_dnc_as_of=now.date() - dt.timedelta(days=32)), now)
    with pytest.raises(ComplianceError, match=r"^C15: a telemarketing campaign needs"):
        check_can_start(replace(fresh, national_dnc_as_of=None), now)
    # created before the list is imported: only the start is refused
    validate_campaign("telemarketing", None, None)
    check_can_start(rules_for(S, national_dnc_as_of=None), now)
    assert campaign_block(rules_for(S), now) is None
