"""Consent records and revocations in the real store (C3, C5, C6, C7, C14, C15).

Every test opens the production ``Store`` on a real SQLite file under
``tmp_path`` with a real key file; the gate's view is read back with
``facts_for`` and judged by the real ``gate.decide``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from support.store import (
    NON_EMERGENCY,
    NUMBERS,
    T0,
    Clock,
    campaign,
    consent,
    counts,
    open_store,
    raw,
    record,
    rules,
)

from dialer.consent.gate import decide
from dialer.consent.model import NumberFacts, Purpose, Reason, RevocationChannel
from dialer.errors import ComplianceError, InputError, NotFoundError, StoreError

A, B = NUMBERS[1], NUMBERS[2]


# -- C3: consent with provenance, append-only -------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("number", "", "number"),
        ("number", "2125550101", "number"),  # not E.164
        ("method", "", "method"),
        ("method", "   ", "method"),
        ("disclosure", "", "disclosure"),
        ("evidence_ref", "", "evidence reference"),
    ],
)
async def test_c3_incomplete_consent_refused(
    tmp_path: Path, field: str, value: str, named: str
) -> None:
    store = await open_store(tmp_path)
    try:
        record = dataclasses.replace(consent(A), **{field: value})
        before = counts(store.db.path)
        with pytest.raises(ComplianceError, match=f"C3: .*missing {named}"):
            await store.consent.add_consent(record, "staff")
        with pytest.raises(ComplianceError, match=named):
            await store.consent.import_batch([consent(B), record], "staff", "batch-1")
        assert counts(store.db.path) == before  # nothing written, no audit entry
    finally:
        await store.close()


async def test_c3_written_consent_needs_signature(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        unsigned = consent(A, Purpose.TELEMARKETING, signature_ref="")
        with pytest.raises(ComplianceError, match="C3: written consent needs a signature"):
            await store.consent.add_consent(unsigned, "staff")
        not_written = consent(A, Purpose.TELEMARKETING, written=False)
        with pytest.raises(ComplianceError, match="written"):
            await store.consent.add_consent(not_written, "staff")
        assert counts(store.db.path)["consents"] == 0
        signed = await store.consent.add_consent(consent(A, Purpose.TELEMARKETING), "staff")
        assert signed == 1
    finally:
        await store.close()


async def test_c3_obtained_at_must_be_aware_and_not_in_the_future(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        naive = consent(A, obtained_at=dt.datetime(2026, 1, 5, 9, 0))
        with pytest.raises(ComplianceError, match="time zone"):
            await store.consent.add_consent(naive, "staff")
        future = consent(A, obtained_at=T0 + dt.timedelta(hours=1))
        with pytest.raises(ComplianceError, match="future"):
            await store.consent.add_consent(future, "staff")
        with pytest.raises(ComplianceError, match="emergency"):
            await store.consent.add_consent(consent(A, Purpose.EMERGENCY), "staff")
    finally:
        await store.close()


async def test_c3_consent_keeps_full_provenance(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        record = consent(A, Purpose.TELEMARKETING, disclosure="Automated calls OK; not a condition")
        consent_id = await store.consent.add_consent(record, "clerk-7")
        with closing(raw(store.db.path)) as conn:
            row = conn.execute(
                "SELECT number_hash, contact_sealed, scope, source, method, obtained_at, "
                "disclosure_sha256, evidence_ref, signature_ref, written, recorded_by "
                "FROM consents WHERE id = ?",
                (consent_id,),
            ).fetchone()
        assert row[0] == store.sealer.index(A)
        assert store.sealer.open_field(row[1], "consents", "contact_sealed", consent_id) == (
            "parent of student 4411"
        )
        assert row[2:6] == (
            "telemarketing",
            "enrollment",
            "enrollment form 2025-26",
            "2026-01-31T16:00:00.000000Z",
        )
        assert row[6] == record.disclosure_sha256() and len(row[6]) == 64
        assert row[7:] == ("SIS:form/4411", "esign:4411", 1, "clerk-7")
    finally:
        await store.close()


@pytest.mark.parametrize("table", ["consents", "revocations", "audit"])
async def test_c3_records_are_append_only(tmp_path: Path, table: str) -> None:
    """An UPDATE in raw SQLite (what a careless admin would run) is refused."""
    store = await open_store(tmp_path)
    try:
        await store.consent.add_consent(consent(A), "staff")
        await store.consent.revoke(A, RevocationChannel.STAFF)
    finally:
        await store.close()
    column = {"consents": "scope", "revocations": "channel", "audit": "kind"}[table]
    with closing(raw(tmp_path / "dialer.db")) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(f"UPDATE {table} SET {column} = 'x'")
        values = {r[0] for r in conn.execute(f"SELECT {column} FROM {table}")}
    assert "x" not in values


async def test_c3_import_batch_is_one_transaction(tmp_path: Path) -> None:
    """A failure while writing row 300 of 300 leaves none of the 299 before it."""
    store = await open_store(tmp_path)
    try:
        await store.consent.add_consent(consent(A), "staff")
        with closing(raw(store.db.path)) as conn:
            # a fault injected at the database (a real SQLite error mid-insert)
            conn.execute(
                "CREATE TRIGGER fail_last BEFORE INSERT ON consents "
                "WHEN NEW.evidence_ref = 'row-300' BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            )
        before = counts(store.db.path)
        records = [consent(NUMBERS[i % 90 + 5], evidence_ref=f"row-{i}") for i in range(1, 301)]
        with pytest.raises(StoreError, match=r"nothing was saved.*disk says no"):
            await store.consent.import_batch(records, "staff", "batch-x")
        assert counts(store.db.path) == before
        await store.verify_audit()
        # the store still works afterwards
        assert await store.consent.import_batch(records[:10], "staff", "batch-y") == 10
    finally:
        await store.close()


async def test_c3_import_batch_writes_every_row_with_its_audit_entry(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        records = [consent(n) for n in NUMBERS[:50]]
        assert await store.consent.import_batch(records, "staff", "export-1") == 50
        after = counts(store.db.path)
        # one entry per consent, and one for the batch's publication (issue 11)
        assert after["consents"] == 50 and after["audit"] == 51
        facts = await store.consent.facts_for_many(list(NUMBERS[:50]))
        assert all(len(f.consents) == 1 for f in facts.values())
        report = await store.verify_audit()
        assert report.entries == 51
    finally:
        await store.close()


# -- C5, C6, C7: revocation by any channel, immediate, all purposes ----------------


@pytest.mark.parametrize("channel", list(RevocationChannel))
async def test_c5_c7_revocation_from_any_channel_blocks_every_purpose(
    tmp_path: Path, channel: RevocationChannel
) -> None:
    clock = Clock()
    store = await open_store(tmp_path, clock)
    try:
        for scope in NON_EMERGENCY:
            await store.consent.add_consent(consent(A, scope), "staff")
        now = clock.now
        for purpose in NON_EMERGENCY:
            facts = await store.consent.facts_for(A)
            assert decide(A, facts, rules(purpose, now), now).allowed, purpose
        clock.advance(dt.timedelta(minutes=1))
        result = await store.consent.revoke(
            A, channel, source_ref="call:telemarketing-fall:3f2a", recorded_by="hotline"
        )
        assert result.received_at == clock.now
        facts = await store.consent.facts_for(A)
        assert facts.revoked_at == clock.now
        for purpose in NON_EMERGENCY:
            decision = decide(A, facts, rules(purpose, clock.now), clock.now)
            assert (decision.allowed, decision.reason) == (False, Reason.REVOKED), purpose
        emergency = decide(A, facts, rules(Purpose.EMERGENCY, clock.now), clock.now)
        assert (emergency.allowed, emergency.reason) == (False, Reason.REVOKED)
        override = decide(A, facts, rules(Purpose.EMERGENCY, clock.now, override=True), clock.now)
        assert (override.allowed, override.reason) == (True, Reason.EMERGENCY_OVERRIDE)
        # the other number is untouched
        other = await store.consent.facts_for(B)
        assert other.revoked_at is None
        with closing(raw(store.db.path)) as conn:
            row = conn.execute(
                "SELECT channel, received_at, source_ref, recorded_by FROM revocations"
            ).fetchone()
        assert row[0] == channel.value
        assert row[2:] == ("call:telemarketing-fall:3f2a", "hotline")
    finally:
        await store.close()


async def test_c6_revocation_by_another_process_blocks_the_very_next_attempt(
    tmp_path: Path,
) -> None:
    """Two connections, like the engine and the hotline AGI script: the engine's
    next look-up (no cache, no reopen) sees the hotline's committed revocation."""
    clock = Clock()
    engine = await open_store(tmp_path, clock)
    hotline = await open_store(tmp_path, clock)
    try:
        await engine.consent.add_consent(consent(A), "staff")
        school = rules(Purpose.SCHOOL, clock.now)
        assert decide(A, await engine.consent.facts_for(A), school, clock.now).allowed
        assert (await engine.consent.facts_for_many([A]))[A].revoked_at is None
        clock.advance(dt.timedelta(seconds=1))
        await hotline.consent.revoke(A, RevocationChannel.HOTLINE, source_ref="agi:hotline")
        single = decide(A, await engine.consent.facts_for(A), school, clock.now)
        batch = decide(A, (await engine.consent.facts_for_many([A]))[A], school, clock.now)
        assert single.reason is Reason.REVOKED and batch.reason is Reason.REVOKED
    finally:
        await engine.close()
        await hotline.close()


async def test_c6_reconsent_after_revocation_lifts_it_for_that_purpose_only(
    tmp_path: Path,
) -> None:
    clock = Clock()
    store = await open_store(tmp_path, clock)
    try:
        await store.consent.add_consent(consent(A, Purpose.SCHOOL), "staff")
        await store.consent.add_consent(consent(A, Purpose.INFORMATIONAL), "staff")
        clock.advance(dt.timedelta(days=1))
        await store.consent.revoke(A, RevocationChannel.SMS, source_ref="sms:STOP")
        clock.advance(dt.timedelta(days=1))
        await store.consent.add_consent(consent(A, Purpose.SCHOOL, obtained_at=clock.now), "staff")
        facts = await store.consent.facts_for(A)
        now = clock.now
        assert decide(A, facts, rules(Purpose.SCHOOL, now), now).allowed
        info = decide(A, facts, rules(Purpose.INFORMATIONAL, now), now)
        assert info.reason is Reason.REVOKED
    finally:
        await store.close()


async def test_facts_for_many_matches_facts_for(tmp_path: Path) -> None:
    """The batch look-up (bench, reports) and the single one agree on every fact."""
    clock = Clock()
    store = await open_store(tmp_path, clock)
    try:
        camp = await campaign(store, "fall")
        await store.consent.add_consent(consent(NUMBERS[1]), "staff")
        await store.consent.add_consent(consent(NUMBERS[2], Purpose.TELEMARKETING), "staff")
        await store.consent.revoke(NUMBERS[2], RevocationChannel.WEB)
        await store.consent.add_company_dnc(NUMBERS[3], "letter")
        await store.consent.import_national_dnc([NUMBERS[4]], clock.now.date(), "national.csv")
        await store.consent.erase(NUMBERS[5], "dpo")
        await store.consent.suppress_wrong_party(NUMBERS[6], "call:1")
        allowed = decide(
            NUMBERS[1],
            await store.consent.facts_for(NUMBERS[1]),
            rules(Purpose.SCHOOL, clock.now),
            clock.now,
        )
        await record(store, camp, NUMBERS[1], allowed, "call-1")
        wanted = list(NUMBERS[1:8])
        many = await store.consent.facts_for_many(wanted + wanted[:2])
        for number in wanted:
            assert many[number] == await store.consent.facts_for(number), number
        assert many[NUMBERS[1]].recent_calls[0].at == clock.now
        assert many[NUMBERS[2]].consents[0].written
        assert many[NUMBERS[3]].company_dnc and many[NUMBERS[4]].national_dnc
        assert many[NUMBERS[5]].erased and many[NUMBERS[6]].wrong_party
        assert many[NUMBERS[7]] == NumberFacts()
        big = await store.consent.facts_for_many([f"+1212555{n:04d}" for n in range(5000)])
        assert len(big) == 5000  # more numbers than SQLite allows variables: still fine
    finally:
        await store.close()


# -- C14 caller IDs, C15 national DNC --------------------------------------------------


async def test_c14_caller_id_allowlist(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        assert not await store.consent.caller_id_allowed("+12125550100")
        await store.consent.add_caller_id("+12125550100", "District office", "admin")
        assert await store.consent.caller_id_allowed("+12125550100")
        assert [(n, label) for n, label, _ in await store.consent.caller_ids()] == [
            ("+12125550100", "District office")
        ]
        await store.consent.remove_caller_id("+12125550100", "admin")
        assert not await store.consent.caller_id_allowed("+12125550100")
        with pytest.raises(NotFoundError):
            await store.consent.remove_caller_id("+12125550100", "admin")
    finally:
        await store.close()


async def test_c15_national_dnc_import_records_its_as_of_date(tmp_path: Path) -> None:
    clock = Clock()
    store = await open_store(tmp_path, clock)
    try:
        assert await store.consent.national_dnc_as_of() is None
        await store.consent.add_consent(consent(A, Purpose.TELEMARKETING), "staff")
        as_of = clock.now.date() - dt.timedelta(days=3)
        assert await store.consent.import_national_dnc([A, A, B], as_of, "dnc.csv") == 2
        assert await store.consent.national_dnc_as_of() == as_of
        facts = await store.consent.facts_for(A)
        tm = dataclasses.replace(rules(Purpose.TELEMARKETING, clock.now), national_dnc_as_of=as_of)
        assert decide(A, facts, tm, clock.now).reason is Reason.DNC_NATIONAL
        # a newer copy replaces the old one entirely
        await store.consent.import_national_dnc([B], clock.now.date(), "dnc2.csv")
        assert not (await store.consent.facts_for(A)).national_dnc
        with pytest.raises(InputError, match="future"):
            await store.consent.import_national_dnc([B], clock.now.date() + dt.timedelta(2), "x")
    finally:
        await store.close()
