"""Property tests of the pure gate over random consent histories (C6, C7, C16, C17).

Random sequences of grant / revoke / erase / wrong-party events are folded into
``NumberFacts`` the way the store summarises a number's history; the gate is
then asked at a time inside every window. Pure functions: nothing to mock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.consent.gate import decide
from dialer.consent.model import (
    CampaignRules,
    ConsentFact,
    EmergencyCategory,
    NumberFacts,
    Purpose,
    Reason,
)

UTC = dt.UTC
NY = "+12125550123"
START = dt.datetime(2026, 1, 5, 15, tzinfo=UTC)
NOW = dt.datetime(2026, 6, 10, 16, tzinfo=UTC)  # 12:00 EDT: inside every window


@dataclass(frozen=True)
class Event:
    kind: str  # grant | revoke | erase | wrong_party
    at: dt.datetime
    scope: Purpose = Purpose.SCHOOL
    written: bool = False


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Events at non-decreasing times (ties allowed: same-instant grant and revoke)."""
    n = draw(st.integers(min_value=0, max_value=12))
    t = START
    events = []
    for _ in range(n):
        t += dt.timedelta(seconds=draw(st.sampled_from([0, 1, 3600, 86400 * 3])))
        kind = draw(st.sampled_from(["grant", "grant", "revoke", "revoke", "erase", "wrong_party"]))
        events.append(Event(kind, t, draw(st.sampled_from(list(Purpose))), draw(st.booleans())))
    return events


def fold(events: list[Event]) -> NumberFacts:
    """What the store reports for a number with this history."""
    consents = tuple(ConsentFact(e.scope, e.at, e.written) for e in events if e.kind == "grant")
    revokes = [e.at for e in events if e.kind == "revoke"]
    return NumberFacts(
        consents=consents,
        revoked_at=max(revokes) if revokes else None,
        erased=any(e.kind == "erase" for e in events),
        wrong_party=any(e.kind == "wrong_party" for e in events),
    )


def satisfies(e: Event, purpose: Purpose) -> bool:
    if purpose is Purpose.EMERGENCY:
        return True
    if purpose is Purpose.TELEMARKETING:
        return e.scope is Purpose.TELEMARKETING and e.written
    return e.scope is purpose


def rules(purpose: Purpose, override: bool, exemption: bool) -> CampaignRules:
    return CampaignRules(
        purpose,
        emergency_category=EmergencyCategory.SAFETY,
        authorized_by="Principal",
        revocation_override=override,
        residential_exemption=exemption,
        national_dnc_as_of=NOW.date(),
    )


@settings(max_examples=400, deadline=None)
@given(
    events=histories(),
    purpose=st.sampled_from(list(Purpose)),
    override=st.booleans(),
    exemption=st.booleans(),
)
def test_c7_no_call_after_revocation_or_erasure_without_later_consent(
    events: list[Event], purpose: Purpose, override: bool, exemption: bool
) -> None:
    d = decide(NY, fold(events), rules(purpose, override, exemption), NOW)
    last_revoke = max((i for i, e in enumerate(events) if e.kind == "revoke"), default=None)
    revoked_at = events[last_revoke].at if last_revoke is not None else None
    grants_after = [
        e for e in events if e.kind == "grant" and (revoked_at is None or e.at > revoked_at)
    ]
    erased = any(e.kind == "erase" for e in events)
    wrong_party = any(e.kind == "wrong_party" for e in events)

    # C17 / C16: erasure and wrong party block everything, override or not
    if erased:
        assert (d.allowed, d.reason) == (False, Reason.ERASED)
        return
    if wrong_party:
        assert (d.allowed, d.reason) == (False, Reason.WRONG_PARTY)
        return

    # latest event a revocation (no grant at all after it): nothing but an
    # emergency call with the override may go out (C6, C7)
    if last_revoke is not None and not any(e.kind == "grant" for e in events[last_revoke:]):
        if purpose is Purpose.EMERGENCY:
            assert d.allowed == override
            if d.allowed:
                assert d.reason is Reason.EMERGENCY_OVERRIDE
        else:
            assert not d.allowed
            assert d.reason is Reason.REVOKED

    if d.allowed and purpose is not Purpose.EMERGENCY:
        # a non-emergency call rests on a live consent of the needed kind, or
        # (informational) on the residential exemption with no revocation at all
        live = any(satisfies(e, purpose) for e in grants_after)
        exempt = purpose is Purpose.INFORMATIONAL and exemption and revoked_at is None
        assert live or exempt
        assert d.with_consent == live
    if d.allowed and purpose is Purpose.EMERGENCY and revoked_at is not None:
        assert grants_after or d.reason is Reason.EMERGENCY_OVERRIDE


@settings(max_examples=200, deadline=None)
@given(events=histories(), purpose=st.sampled_from(list(Purpose)))
def test_c6_revocation_appended_to_any_history_blocks_the_next_attempt(
    events: list[Event], purpose: Purpose
) -> None:
    """Whatever came before, a new revocation blocks the very next attempt (C6)."""
    t = events[-1].at if events else START
    facts = fold([*events, Event("revoke", t + dt.timedelta(seconds=1))])
    d = decide(NY, facts, rules(purpose, override=False, exemption=True), NOW)
    assert not d.allowed
