"""The order of consent and revocation (COMPLIANCE.md decisions; issue 7, item 5).

A revocation beats every consent *recorded* before it, whatever ``obtained_at``
that consent claims; a consent lifts a revocation only when it is both recorded
after it and obtained after it. A revocation imported later (an SMS export)
keeps the time its message was received, and still blocks. A purge that removes
a revocation leaves a keyed-hash suppression, so the number stays blocked (C4).
Pure gate properties first, then the same on a real store.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from support.store import NUMBERS, Clock, consent, counts, open_store, rules

from dialer.consent.gate import decide, has_live_consent
from dialer.consent.model import ConsentFact, NumberFacts, Purpose, Reason, RevocationChannel
from dialer.store.consent import RETENTION

T = dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
_OFFSETS = st.integers(min_value=-100, max_value=100).map(lambda h: T + h * HOUR)


@given(
    consents=st.lists(st.tuples(_OFFSETS, _OFFSETS), max_size=4),
    revocation=st.one_of(st.none(), st.tuples(_OFFSETS, st.integers(0, 50))),
)
def test_c6_consent_lifts_a_revocation_only_recorded_and_obtained_after_it(
    consents: list[tuple[dt.datetime, dt.datetime]], revocation: tuple[dt.datetime, int] | None
) -> None:
    received = revocation[0] if revocation else None
    recorded = revocation[0] + revocation[1] * HOUR if revocation else None
    facts = NumberFacts(
        consents=tuple(ConsentFact(Purpose.SCHOOL, o, False, r) for o, r in consents),
        revoked_at=received,
        revocation_recorded_at=recorded,
    )
    expected = any(
        received is None or (obtained > received and rec > recorded)  # type: ignore[operator]
        for obtained, rec in consents
    )
    assert has_live_consent(facts, Purpose.SCHOOL) is expected


def test_c6_revocation_beats_a_consent_recorded_before_it_whatever_it_claims() -> None:
    """Received at T, recorded at T+2h; a consent recorded at T+1h claiming T+30min."""
    backdated = ConsentFact(Purpose.SCHOOL, T + HOUR / 2, False, T + HOUR)
    facts = NumberFacts((backdated,), revoked_at=T, revocation_recorded_at=T + 2 * HOUR)
    now = T + 3 * HOUR
    assert decide(NUMBERS[0], facts, rules(Purpose.SCHOOL, now), now).reason is Reason.REVOKED
    later = ConsentFact(Purpose.SCHOOL, T + 2.5 * HOUR, False, T + 2.5 * HOUR)
    facts = NumberFacts((backdated, later), revoked_at=T, revocation_recorded_at=T + 2 * HOUR)
    assert decide(NUMBERS[0], facts, rules(Purpose.SCHOOL, now), now).allowed


async def test_c5_sms_revocation_imported_later_keeps_its_time_and_still_blocks(
    tmp_path: Path,
) -> None:
    number = NUMBERS[90]
    clock = Clock(T)
    store = await open_store(tmp_path, clock)
    try:
        await store.consent.add_consent(consent(number, obtained_at=T - 30 * 24 * HOUR), "staff")
        # Monday 11:00: the parent texts STOP; the gateway's hook is down
        received = T
        # 13:00: staff record a new consent the parent "gave" at 12:00 on the phone
        clock.now = T + 2 * HOUR
        await store.consent.add_consent(consent(number, obtained_at=T + HOUR), "staff")
        # 15:00: the SMS export is imported; the STOP keeps its 11:00 time
        clock.now = T + 4 * HOUR
        await store.consent.revoke(
            number, RevocationChannel.SMS, source_ref="SM-1", received_at=received
        )
        facts = await store.consent.facts_for(number)
        assert facts.revoked_at == received and facts.revocation_recorded_at == clock.now
        now = clock.now
        # obtained after the STOP, but recorded before it was: the STOP wins
        assert decide(number, facts, rules(Purpose.SCHOOL, now), now).reason is Reason.REVOKED
        # a consent recorded afterwards but claiming a time before the STOP: still revoked
        clock.now = T + 5 * HOUR
        await store.consent.add_consent(consent(number, obtained_at=T - HOUR), "staff")
        facts = await store.consent.facts_for(number)
        assert decide(number, facts, rules(Purpose.SCHOOL, now), now).reason is Reason.REVOKED
        # recorded after and obtained after: the parent asked to be called again
        clock.now = T + 6 * HOUR
        await store.consent.add_consent(consent(number, obtained_at=T + 6 * HOUR), "staff")
        facts = await store.consent.facts_for(number)
        assert decide(number, facts, rules(Purpose.SCHOOL, clock.now), clock.now).allowed
    finally:
        await store.close()


async def test_c4_purged_revocation_still_blocks(tmp_path: Path) -> None:
    """A revocation past retention goes; a keyed-hash suppression stays and blocks
    every non-emergency call; a consent given after it still lifts it."""
    blocked, lifted = NUMBERS[91], NUMBERS[92]
    clock = Clock(T)
    store = await open_store(tmp_path, clock)
    try:
        for number in (blocked, lifted):
            await store.consent.add_consent(consent(number, obtained_at=T - HOUR), "staff")
            await store.consent.revoke(number, RevocationChannel.HOTLINE)
        clock.now = T + RETENTION + 24 * HOUR
        before = counts(store.db.path)
        removed = await store.consent.purge("dpo")
        assert removed["revocations"] == 2 and removed["revoked_suppressions"] == 2
        assert counts(store.db.path)["revocations"] == before["revocations"] - 2
        now = clock.now
        for purpose in (Purpose.SCHOOL, Purpose.INFORMATIONAL, Purpose.TELEMARKETING):
            facts = await store.consent.facts_for(blocked)
            assert decide(blocked, facts, rules(purpose, now), now).reason is Reason.REVOKED
        # the parent asks to be called again, years later: a new consent lifts it
        await store.consent.add_consent(consent(lifted, obtained_at=now - HOUR), "staff")
        facts = await store.consent.facts_for(lifted)
        assert decide(lifted, facts, rules(Purpose.SCHOOL, now), now).allowed
        await store.check_integrity()
        await store.verify_audit()
    finally:
        await store.close()
