"""Tamper-evident audit chain (C19) on a real file, tampered with in raw SQLite.

The attacker here has the database file but not the key: they drop the
append-only trigger and edit, insert or delete rows directly. ``verify``
(and ``dialer audit verify``) must name the first broken entry each time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from support.store import (
    NUMBERS,
    Clock,
    audit_kinds,
    campaign,
    consent,
    open_store,
    raw,
    record,
    rules,
)

from dialer.consent.gate import decide
from dialer.consent.model import Purpose, Reason, RevocationChannel
from dialer.errors import AuditChainError
from dialer.store import audit

A, B, C = NUMBERS[20], NUMBERS[21], NUMBERS[22]
ENTRIES = 8


async def _chain(root: Path) -> Path:
    """A store with ENTRIES audit entries, closed again."""
    store = await open_store(root)
    try:
        for n in NUMBERS[30 : 30 + ENTRIES - 2]:
            await store.consent.add_consent(consent(n), "staff")
        await store.consent.revoke(NUMBERS[30], RevocationChannel.SMS, source_ref="sms:1")
        await store.consent.erase(NUMBERS[31], "dpo")
        assert (await store.verify_audit()).entries == ENTRIES
    finally:
        await store.close()
    return root / "dialer.db"


def _attack(db: Path, *statements: str) -> None:
    with closing(raw(db)) as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_append_only")
        for sql in statements:
            conn.execute(sql)


async def _verify(root: Path) -> AuditChainError:
    store = await open_store(root)
    try:
        with pytest.raises(AuditChainError) as caught:
            await store.verify_audit()
        return caught.value
    finally:
        await store.close()


async def test_c19_fresh_chain_verifies(tmp_path: Path) -> None:
    await _chain(tmp_path)
    store = await open_store(tmp_path)
    try:
        report = await store.verify_audit()
        assert (report.entries, report.head_seq) == (ENTRIES, ENTRIES)
        with closing(raw(store.db.path)) as conn:
            last_mac = conn.execute("SELECT mac FROM audit ORDER BY seq DESC").fetchone()[0]
        assert report.head_mac == last_mac
    finally:
        await store.close()


async def test_c19_empty_chain_verifies(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        assert (await store.verify_audit()).entries == 0
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("name", "attack", "entry"),
    [
        (
            "edited payload",
            lambda: [
                'UPDATE audit SET payload = replace(payload, \'"by":"staff"\', '
                '\'"by":"nobody"\') WHERE seq = 4'
            ],
            "entry 4 (consent): its content was changed",
        ),
        (
            "edited kind",
            lambda: ["UPDATE audit SET kind = 'consent' WHERE seq = 7"],
            "entry 7",
        ),
        (
            "edited time",
            lambda: ["UPDATE audit SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 2"],
            "entry 2",
        ),
        (
            "deleted middle row",
            lambda: ["DELETE FROM audit WHERE seq = 5"],
            "entry 5: next entry is 6",
        ),
        (
            "deleted first row",
            lambda: ["DELETE FROM audit WHERE seq = 1"],
            "entry 1: next entry is 2",
        ),
        (
            "deleted last row (head mismatch)",
            lambda: [f"DELETE FROM audit WHERE seq = {ENTRIES}"],
            f"after entry {ENTRIES - 1}: the recorded head is entry {ENTRIES}",
        ),
        (
            "deleted last row and head",
            lambda: [f"DELETE FROM audit WHERE seq = {ENTRIES}", "DELETE FROM meta"],
            "head is missing",
        ),
        (
            "forged row inserted in the middle",
            lambda: [
                # renumber 4.. up by one (two steps: the primary key is unique) and
                # slip a forged entry in as 4, linked to entry 3's real mac
                "UPDATE audit SET seq = seq + 1000 WHERE seq >= 4",
                "UPDATE audit SET seq = seq - 999 WHERE seq >= 1000",
                "INSERT INTO audit (seq, at, kind, payload, prev, mac) SELECT 4, at, "
                "'purge', '{}', mac, 'f0' || substr(mac, 3) FROM audit WHERE seq = 3",
            ],
            "entry 4 (purge): its content was changed or it was not written by this dialer",
        ),
        (
            "forged row appended after the head",
            lambda: [
                f"INSERT INTO audit (seq, at, kind, payload, prev, mac) SELECT {ENTRIES + 1}, "
                f"at, 'consent', '{{}}', mac, mac FROM audit WHERE seq = {ENTRIES}"
            ],
            f"entry {ENTRIES + 1} (consent)",
        ),
        (
            "rows swapped",
            lambda: [
                "UPDATE audit SET seq = 100 WHERE seq = 2",
                "UPDATE audit SET seq = 2 WHERE seq = 3",
                "UPDATE audit SET seq = 3 WHERE seq = 100",
            ],
            "entry 2: it does not link to entry 1",
        ),
    ],
)
async def test_c19_tampering_is_detected_at_the_right_entry(
    tmp_path: Path, name: str, attack: Callable[[], list[str]], entry: str
) -> None:
    db = await _chain(tmp_path)
    _attack(db, *attack())
    error = await _verify(tmp_path)
    assert entry in str(error), f"{name}: {error}"
    assert re.search(r"entry \d+|head", str(error))


async def test_c19_a_recomputed_chain_without_the_key_is_detected(tmp_path: Path) -> None:
    """An attacker who recomputes the chain with plain SHA-256 (no key) fails at entry 1."""
    db = await _chain(tmp_path)
    with closing(raw(db)) as conn:
        rows = conn.execute("SELECT seq, at, kind, payload FROM audit ORDER BY seq").fetchall()
    prev = "0" * 64
    statements = ["DELETE FROM audit"]
    for seq, at, kind, payload in rows:
        payload = payload.replace('"by":"staff"', '"by":"mallory"')
        mac = hashlib.sha256(f"{seq}\x1f{at}\x1f{kind}\x1f{payload}\x1f{prev}".encode()).hexdigest()
        statements.append(
            f"INSERT INTO audit VALUES ({seq}, '{at}', '{kind}', '{payload}', '{prev}', '{mac}')"
        )
        prev = mac
    statements.append(f"UPDATE meta SET value = '{len(rows)}:{prev}' WHERE key = 'audit_head'")
    _attack(db, *statements)
    error = await _verify(tmp_path)
    assert "entry 1 (consent)" in str(error)


async def test_c19_the_append_only_trigger_refuses_edits_and_verify_passes_after(
    tmp_path: Path,
) -> None:
    db = await _chain(tmp_path)
    with closing(raw(db)) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET payload = '{}' WHERE seq = 1")
    store = await open_store(tmp_path)
    try:
        assert (await store.verify_audit()).entries == ENTRIES
    finally:
        await store.close()


async def test_c19_every_audited_action_appends_an_entry(tmp_path: Path) -> None:
    """Consent, revocation, blocked decision, override, erasure and purge: one entry each."""
    clock = Clock()
    store = await open_store(tmp_path, clock)
    try:
        await store.consent.add_consent(consent(A), "staff")  # consent 1
        await store.consent.import_batch([consent(B), consent(C)], "staff", "b1")  # consent 2, 3
        await store.consent.revoke(A, RevocationChannel.KEYPAD, source_ref="call:x")
        school = await campaign(store, "fall")
        blocked = decide(
            A, await store.consent.facts_for(A), rules(Purpose.SCHOOL, clock.now), clock.now
        )
        assert blocked.reason is Reason.REVOKED
        await record(store, school, A, blocked, "call-blocked")
        allowed = decide(
            B, await store.consent.facts_for(B), rules(Purpose.SCHOOL, clock.now), clock.now
        )
        assert allowed.allowed
        await record(store, school, B, allowed, "call-allowed")  # allowed: no entry
        await campaign(store, "fire", Purpose.EMERGENCY)
        await store.campaigns.set_override("fire", "Principal Skinner", "building evacuation")
        drill = await store.campaigns.get("fire")
        overridden = decide(
            A,
            await store.consent.facts_for(A),
            rules(Purpose.EMERGENCY, clock.now, override=drill.override_by is not None),
            clock.now,
        )
        assert overridden.reason is Reason.EMERGENCY_OVERRIDE
        await record(store, drill, A, overridden, "call-override")
        await store.consent.erase(C, "dpo")
        clock.advance(dt.timedelta(days=6 * 366))
        await store.consent.purge("dpo")
        kinds = audit_kinds(store.db.path)
        assert kinds["consent"] == 3
        assert kinds["revocation"] == 1
        assert kinds["gate-blocked"] == 1
        assert kinds["override"] == 1 and kinds["gate-override"] == 1
        assert kinds["erasure"] == 1
        assert kinds["purge"] == 1
        entries = await audit.entries(store.db)
        blocked_entry = next(e for e in entries if e[2] == "gate-blocked")[3]
        assert blocked_entry["reason"] == "revoked"
        assert blocked_entry["number_hash"] == store.sealer.index(A)
        override_entry = next(e for e in entries if e[2] == "override")[3]
        assert override_entry["operator"] == "Principal Skinner"
        assert (await store.verify_audit()).entries == sum(kinds.values())
    finally:
        await store.close()
