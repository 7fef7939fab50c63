"""Retention and purge (C4) with the store's clock moved years ahead.

``purge`` removes what is past retention (5 years: consent evidence after the
later of when it was obtained and the last call that relied on it; a
revocation or company DNC entry after it was received) and nothing else. A
purged revocation takes the older consents with it, so purging can never
revive a revoked consent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from support.store import (
    NUMBERS,
    Clock,
    campaign,
    consent,
    counts,
    open_store,
    record,
    rules,
)

from dialer.consent.gate import decide
from dialer.consent.model import Purpose, Reason, RevocationChannel
from dialer.store import audit
from dialer.store.consent import RETENTION

DAY = dt.timedelta(days=1)
T_OLD = dt.datetime(2020, 3, 2, 16, 0, tzinfo=dt.UTC)  # 11:00 in New York
PURGE_AT = T_OLD + RETENTION + 10 * DAY  # cutoff = T_OLD + 10 days

OLD, RELIED, REVIVE, RECENT, RECENT_REVOKED, INSIDE, OUTSIDE, DNC_OLD, DNC_NEW, ERASED = NUMBERS[
    40:50
]


async def test_c4_purge_removes_only_what_is_past_retention(tmp_path: Path) -> None:
    clock = Clock(T_OLD)
    store = await open_store(tmp_path, clock)
    try:
        cutoff = PURGE_AT - RETENTION
        # -- long ago
        await store.consent.add_consent(consent(OLD, obtained_at=T_OLD - DAY), "staff")
        await store.consent.add_consent(consent(RELIED, obtained_at=T_OLD - DAY), "staff")
        # REVIVE: written telemarketing consent, revoked, then school consent again
        await store.consent.add_consent(
            consent(REVIVE, Purpose.TELEMARKETING, obtained_at=T_OLD - DAY), "staff"
        )
        await store.consent.revoke(REVIVE, RevocationChannel.HOTLINE, received_at=T_OLD)
        await store.consent.add_consent(consent(RECENT_REVOKED, obtained_at=T_OLD - DAY), "staff")
        await store.consent.add_company_dnc(DNC_OLD, "letter")
        await store.consent.add_consent(consent(ERASED, obtained_at=T_OLD - DAY), "staff")
        await store.consent.erase(ERASED, "dpo")
        clock.now = T_OLD + DAY
        await store.consent.add_consent(consent(REVIVE, obtained_at=clock.now), "staff")
        clock.now = cutoff
        await store.consent.add_consent(consent(OUTSIDE, obtained_at=cutoff - DAY), "staff")

        # -- four years later: calls that relied on RELIED's and REVIVE's consents
        clock.now = T_OLD + 4 * 365 * DAY
        fall = await campaign(store, "fall")
        for i, number in enumerate((RELIED, REVIVE)):
            facts = await store.consent.facts_for(number)
            decision = decide(number, facts, rules(Purpose.SCHOOL, clock.now), clock.now)
            assert decision.allowed and decision.with_consent, number
            await record(store, fall, number, decision, f"call-{i}")

        # -- recently
        clock.now = PURGE_AT - 10 * DAY
        await store.consent.add_consent(consent(RECENT, obtained_at=clock.now), "staff")
        await store.consent.revoke(RECENT_REVOKED, RevocationChannel.STAFF)
        await store.consent.add_consent(consent(INSIDE, obtained_at=cutoff + DAY), "staff")
        await store.consent.add_company_dnc(DNC_NEW, "letter")

        clock.now = PURGE_AT
        before = counts(store.db.path)
        removed = await store.consent.purge("dpo")
        after = counts(store.db.path)

        # OLD, REVIVE's revoked telemarketing consent, RECENT_REVOKED's old one, OUTSIDE
        assert removed == {
            "consents": 4,
            "revocations": 1,
            "dnc_company": 1,
            "revoked_suppressions": 1,  # the purged revocation still blocks
        }
        assert after["consents"] == before["consents"] - 4
        assert after["revocations"] == before["revocations"] - 1
        assert after["dnc_company"] == before["dnc_company"] - 1
        assert after["suppressions"] == before["suppressions"] + 1
        for table in ("attempts", "caller_ids", "contacts"):
            assert after[table] == before[table], table
        assert after["audit"] == before["audit"] + 1  # the purge's own entry, nothing gone

        now = clock.now
        school = rules(Purpose.SCHOOL, now)

        async def reason(number: str, purpose_rules: object = school) -> Reason:
            facts = await store.consent.facts_for(number)
            return decide(number, facts, purpose_rules, now).reason  # type: ignore[arg-type]

        assert await reason(OLD) is Reason.NO_CONSENT
        assert await reason(OUTSIDE) is Reason.NO_CONSENT
        assert await reason(INSIDE) is Reason.ALLOWED  # one day inside retention
        assert await reason(RELIED) is Reason.ALLOWED  # a recent call relied on it
        assert await reason(RECENT) is Reason.ALLOWED
        # the recent revocation survives and still blocks
        assert await reason(RECENT_REVOKED) in (Reason.REVOKED, Reason.NO_CONSENT)
        assert (await store.consent.facts_for(RECENT_REVOKED)).revoked_at == PURGE_AT - 10 * DAY
        # REVIVE: the old revocation is gone, and with it the consent it revoked;
        # its keyed-hash suppression still blocks telemarketing (C4), while the
        # school re-consent a recent call relied on stays and lifts it for school
        tm = rules(Purpose.TELEMARKETING, now)
        assert await reason(REVIVE, tm) is Reason.REVOKED
        assert await reason(REVIVE) is Reason.ALLOWED
        revive = await store.consent.facts_for(REVIVE)
        assert [c.scope for c in revive.consents] == [Purpose.SCHOOL]
        # DNC: the old entry is past its 5 years, the recent one still blocks
        assert not (await store.consent.facts_for(DNC_OLD)).company_dnc
        assert await reason(DNC_NEW) is Reason.DNC_COMPANY
        # the erasure suppression is never purged (C17)
        assert await reason(ERASED) is Reason.ERASED

        entries = await audit.entries(store.db)
        assert entries[-1][2] == "purge" and entries[-1][3]["removed"] == removed
        assert (await store.verify_audit()).entries == len(entries)
    finally:
        await store.close()


async def test_c4_purge_within_retention_removes_nothing(tmp_path: Path) -> None:
    clock = Clock(T_OLD)
    store = await open_store(tmp_path, clock)
    try:
        await store.consent.add_consent(consent(OLD, obtained_at=T_OLD), "staff")
        await store.consent.revoke(OLD, RevocationChannel.SMS)
        await store.consent.add_company_dnc(DNC_OLD, "letter")
        clock.now = T_OLD + RETENTION - DAY  # one day short of five years (and then some)
        before = counts(store.db.path)
        assert await store.consent.purge("dpo") == {
            "consents": 0,
            "revocations": 0,
            "dnc_company": 0,
            "revoked_suppressions": 0,
        }
        after = counts(store.db.path)
        assert {k: v for k, v in after.items() if k != "audit"} == {
            k: v for k, v in before.items() if k != "audit"
        }
        facts = await store.consent.facts_for(OLD)
        d = decide(OLD, facts, rules(Purpose.SCHOOL, clock.now), clock.now)
        assert d.reason is Reason.REVOKED
    finally:
        await store.close()


def test_c4_retention_is_at_least_five_years() -> None:
    assert dt.timedelta(days=5 * 365 + 2) <= RETENTION  # leap days included
