"""Tamper-evident data, not only a tamper-evident log (C19), on a real file.

The attacker has write access to the database file and no key. Three attacks
passed ``audit verify`` before rows were bound to the log (issue 7, item 3):
deleting the last audit entries and rewriting the head, deleting the
revocations, and inserting a consent row with no audit entry. Each one is
detected here by ``verify`` (names the row or entry), by the start-up check the
engine runs before dialling, and (the consent) by the gate itself.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.store import NUMBERS, Clock, consent, open_store, raw, rules

from dialer.consent.gate import decide
from dialer.consent.model import Purpose, Reason, RevocationChannel
from dialer.errors import AuditChainError, IntegrityError, StoreError
from dialer.store import rows
from dialer.store.migrations import MIGRATIONS
from dialer.store.sealed import INDEX_COLUMNS, SEALED_COLUMNS

A, B, C, D = NUMBERS[60:64]


async def _history(root: Path) -> Path:
    """Consents, revocations, a DNC entry, a wrong party and an erasure; closed again."""
    store = await open_store(root)
    try:
        for n in (A, B, C):
            await store.consent.add_consent(consent(n), "staff")
        await store.consent.import_batch([consent(D), consent(NUMBERS[70])], "staff", "b1")
        await store.consent.revoke(B, RevocationChannel.SMS, source_ref="sms:1")
        await store.consent.add_company_dnc(NUMBERS[71], "letter")
        await store.consent.suppress_wrong_party(NUMBERS[72], "call:8")
        await store.consent.add_caller_id(NUMBERS[73], "office", "admin")
        await store.consent.erase(NUMBERS[70], "dpo")
        await store.consent.import_national_dnc([NUMBERS[74], NUMBERS[75]], T_DNC, "dnc.csv")
        report = await store.verify_audit()
        assert report.rows_checked == 4 + 1 + 1 + 2 + 1  # consents, rev, dnc, supp, caller
        assert report.national_entries == 2
        await store.check_integrity()
    finally:
        await store.close()
    return root / "dialer.db"


T_DNC = dt.date(2026, 2, 20)


def _attack(db: Path, *statements: str) -> None:
    with closing(raw(db)) as conn:
        for trigger in ("audit", "consents", "revocations"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}_append_only")
        for sql in statements:
            conn.execute(sql)


async def _refused(root: Path) -> tuple[str, str]:
    """What ``audit verify`` and the start-up check say about the store at ``root``."""
    store = await open_store(root)
    try:
        with pytest.raises(AuditChainError) as verified:
            await store.verify_audit()
        with pytest.raises(IntegrityError) as started:
            await store.check_integrity()
        return str(verified.value), str(started.value)
    finally:
        await store.close()


async def test_c19_truncated_log_with_a_rewritten_head_is_detected(tmp_path: Path) -> None:
    """Attack 1: delete the last entries and rewrite meta.audit_head to match."""
    db = await _history(tmp_path)
    with closing(raw(db)) as conn:
        total = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        seq, mac = conn.execute("SELECT seq, mac FROM audit WHERE seq = ?", (total - 2,)).fetchone()
    _attack(
        db,
        f"DELETE FROM audit WHERE seq > {total - 2}",
        f"UPDATE meta SET value = '{seq}:{mac}' WHERE key = 'audit_head'",
    )
    verified, started = await _refused(tmp_path)
    assert f"after entry {total - 2}" in verified and "does not match its seal" in verified
    assert "refusing to dial" in started and "does not match its seal" in started
    assert "dialer audit verify" in started
    # a tampered store is never written to: the next write refuses too
    store = await open_store(tmp_path)
    try:
        with pytest.raises(IntegrityError, match="seal"):
            await store.consent.add_consent(consent(NUMBERS[80]), "staff")
    finally:
        await store.close()
    with closing(raw(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == total - 2


async def test_c19_deleted_revocations_are_detected_and_the_run_refuses(tmp_path: Path) -> None:
    """Attack 2: DELETE FROM revocations. The gate alone would now allow B."""
    db = await _history(tmp_path)
    _attack(db, "DELETE FROM revocations")
    verified, started = await _refused(tmp_path)
    assert "row 1 of table revocations, recorded by audit entry" in verified
    assert "is missing" in verified
    assert "table revocations holds 0 rows but the ledger sealed 1" in started


async def test_c19_consent_inserted_without_audit_entry_is_not_honoured(tmp_path: Path) -> None:
    """Attack 3: a consent row for a number nobody consented for, with a copied MAC."""
    db = await _history(tmp_path)
    clock = Clock()
    store = await open_store(tmp_path, clock)
    try:
        target = store.sealer.index(NUMBERS[81])
    finally:
        await store.close()
    _attack(
        db,
        "INSERT INTO consents (number_hash, scope, source, method, obtained_at, "
        "disclosure_sha256, evidence_ref, written, recorded_at, recorded_by, mac) "
        f"SELECT '{target}', scope, source, method, obtained_at, disclosure_sha256, "
        "evidence_ref, written, recorded_at, recorded_by, mac FROM consents LIMIT 1",
    )
    store = await open_store(tmp_path, clock)
    try:
        facts = await store.consent.facts_for(NUMBERS[81])
        assert facts.consents == () and facts.unverified_consents == 1
        decision = decide(NUMBERS[81], facts, rules(Purpose.SCHOOL, clock.now), clock.now)
        assert decision.reason is Reason.NO_CONSENT  # the gate refuses to honour it
    finally:
        await store.close()
    verified, started = await _refused(tmp_path)
    assert "of table consents was changed or written outside the dialer" in verified
    assert "table consents holds 5 rows but the ledger sealed 4" in started


@pytest.mark.parametrize(
    ("attack", "verified_says", "started_says"),
    [
        (
            # a revocation moved to another number (row edited in place)
            "UPDATE revocations SET number_hash = 'ab' || substr(number_hash, 3)",
            "row 1 of table revocations was changed",
            "row 1 of table revocations was changed",
        ),
        (
            "DELETE FROM suppressions WHERE reason = 'wrong-party'",
            "table suppressions",
            "table suppressions holds 1 rows but the ledger sealed 2",
        ),
        (
            "DELETE FROM dnc_company",
            "table dnc_company",
            "table dnc_company holds 0 rows",
        ),
        (
            "DELETE FROM dnc_national WHERE number_hash = "
            "(SELECT MIN(number_hash) FROM dnc_national)",
            "national do-not-call copy",
            "national do-not-call copy holds 1 numbers",
        ),
        (
            "UPDATE meta SET value = replace(value, '[1,', '[2,') WHERE key = 'ledger'",
            "ledger",
            "ledger",
        ),
        (
            "DELETE FROM meta WHERE key IN ('ledger', 'ledger_mac')",
            "ledger",
            "integrity ledger is missing",
        ),
        (
            "DELETE FROM consents WHERE id = 2",
            "row 2 of table consents, recorded by audit entry",
            "table consents holds 3 rows but the ledger sealed 4",
        ),
    ],
)
async def test_c19_every_bound_table_is_checked_both_ways(
    tmp_path: Path, attack: str, verified_says: str, started_says: str
) -> None:
    db = await _history(tmp_path)
    _attack(db, attack)
    verified, started = await _refused(tmp_path)
    assert verified_says in verified
    assert started_says in started


async def test_c19_a_row_put_back_from_an_old_copy_is_detected(tmp_path: Path) -> None:
    """Delete a revocation and put back one the dialer removed earlier (a replay from
    an old copy of the file): counts match, every MAC verifies, the log does not."""
    store = await open_store(tmp_path)
    try:
        await store.consent.revoke(A, RevocationChannel.STAFF)
        await store.consent.revoke(B, RevocationChannel.STAFF)
    finally:
        await store.close()
    db = tmp_path / "dialer.db"
    with closing(raw(db)) as conn:
        old = conn.execute("SELECT * FROM revocations WHERE id = 1").fetchone()
    store = await open_store(tmp_path)
    try:
        await store.consent.erase(A, "dpo")  # removes revocation 1, audited
    finally:
        await store.close()
    marks = ", ".join("?" * len(old))
    with closing(raw(db)) as conn:
        conn.execute("DELETE FROM revocations WHERE id = 2")
        conn.execute(f"INSERT INTO revocations VALUES ({marks})", old)
    verified, started = await _refused(tmp_path)
    assert "revocations" in verified
    assert "other rows than the ledger sealed" in started


async def test_c19_sealed_values_are_bound_to_their_place(tmp_path: Path) -> None:
    """Contract 4: a ciphertext copied to another row no longer opens."""
    store = await open_store(tmp_path)
    try:
        await store.consent.add_caller_id(A, "office", "admin")
        await store.consent.add_caller_id(B, "annex", "admin")
    finally:
        await store.close()
    _attack(
        tmp_path / "dialer.db",
        "UPDATE caller_ids SET number_sealed = (SELECT number_sealed FROM caller_ids "
        "ORDER BY added_at, label LIMIT 1)",
    )
    store = await open_store(tmp_path)
    try:
        with pytest.raises(StoreError, match=r"cannot decrypt caller_ids\.number_sealed"):
            await store.consent.caller_ids()
    finally:
        await store.close()


def _schema_columns(tmp: Path) -> dict[str, list[str]]:
    path = tmp / "schema.db"
    with closing(sqlite3.connect(path)) as conn:
        for _, sql in MIGRATIONS:
            conn.executescript(sql)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


def test_c18_every_sealed_and_blind_index_column_is_registered(tmp_path: Path) -> None:
    """Key rotation walks the registry: a column it does not know would be lost."""
    schema = _schema_columns(tmp_path)
    sealed = {(t, c) for t, cols in schema.items() for c in cols if c.endswith("_sealed")}
    assert sealed == set(SEALED_COLUMNS)
    indexed = {
        (t, c)
        for t, cols in schema.items()
        for c in cols
        if c.endswith("number_hash") or c == "caller_id_hash"
    }
    assert indexed <= set(INDEX_COLUMNS)
    for table, column in INDEX_COLUMNS:
        assert column in schema[table], (table, column)
    for table in rows.BOUND:
        assert "mac" in schema[table], table


_VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
    st.binary(max_size=40),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, min_size=3, max_size=3))
def test_c19_row_canonical_form_is_the_same_in_python_and_sqlite(values: list[object]) -> None:
    cols = ("a", "b", "c")
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("CREATE TABLE t (a, b, c)")
        conn.execute("INSERT INTO t VALUES (?, ?, ?)", values)
        (text,) = conn.execute(f"SELECT {rows.canonical_sql('t', cols)} FROM t").fetchone()
    assert text.encode() == rows.canonical("t", cols, dict(zip(cols, values, strict=True)))
