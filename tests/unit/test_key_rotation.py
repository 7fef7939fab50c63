"""``dialer key rotate`` (issue 7, item 4): re-encrypt, re-index and re-chain in one
transaction, on a real store with every kind of row; everything the store knew
is still known afterwards, with the new key only."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from support.store import NUMBERS, Clock, campaign, consent, open_store, raw, record, rules
from typer.testing import CliRunner

from dialer.cli import app
from dialer.consent.crypto import Sealer, read_key_file
from dialer.consent.gate import decide
from dialer.consent.model import Purpose, Reason, RevocationChannel
from dialer.errors import AuditChainError, KeyMismatchError, StoreError
from dialer.model.contact import NewContact
from dialer.store import audit
from dialer.store.store import Store

A, B, C, D, E = NUMBERS[80:85]
RUNNER = CliRunner()


async def _everything(root: Path, clock: Clock) -> dict[str, Reason]:
    """Consents, a revocation, an erasure, DNC lists, a wrong party, contacts, a
    campaign and attempts; returns the gate's reason per number."""
    store = await open_store(root, clock)
    try:
        await store.consent.import_batch([consent(A), consent(B), consent(C)], "staff", "b1")
        await store.consent.revoke(B, RevocationChannel.SMS, source_ref="sms:1")
        await store.consent.erase(C, "dpo")
        await store.consent.add_company_dnc(D, "letter")
        await store.consent.suppress_wrong_party(E, "call:8")
        await store.consent.import_national_dnc([A, E], clock.now.date(), "dnc.csv")
        await store.contacts.import_list(
            "families",
            [NewContact("1", A, "en", {"student_name": "Ada"}), NewContact("2", C, "en", {})],
            replace=False,
            operator="staff",
        )
        fall = await campaign(store, "fall")  # adds the office caller ID's list too
        await store.consent.add_caller_id(fall.caller_id, "office", "admin")
        school = rules(Purpose.SCHOOL, clock.now)
        reasons = {}
        for i, number in enumerate((A, B, C, D, E)):
            decision = decide(number, await store.consent.facts_for(number), school, clock.now)
            await record(store, fall, number, decision, f"call-{i}")
            reasons[number] = decision.reason
        return reasons
    finally:
        await store.close()


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(root.glob(pattern))


def _cli(root: Path, *args: str, code: int = 0) -> str:
    result = RUNNER.invoke(app, ["--config", str(root / "dialer.toml"), *args])
    assert result.exit_code == code, result.output
    return result.output


def test_key_rotation_keeps_everything_and_only_the_new_key_opens(tmp_path: Path) -> None:
    """Through the real command line; then the store, opened with each key."""
    clock = Clock()
    reasons = asyncio.run(_everything(tmp_path, clock))
    assert reasons == {
        A: Reason.ALLOWED,
        B: Reason.REVOKED,
        C: Reason.ERASED,
        D: Reason.DNC_COMPANY,
        E: Reason.WRONG_PARTY,
    }
    key = tmp_path / "dialer.key"
    old_material = read_key_file(key)
    db = tmp_path / "dialer.db"
    with closing(raw(db)) as conn:
        entries_before = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        sealed_before = conn.execute("SELECT number_sealed FROM contacts").fetchall()
    (tmp_path / "dialer.toml").write_text("", encoding="utf-8")

    out = " ".join(_cli(tmp_path, "key", "rotate").split())
    assert "encrypted" in out, out
    assert "backups made before this rotation" in out, out
    retired = _files(tmp_path, "dialer.key.retired-*")[0]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(retired.stat().st_mode) == 0o600
    assert read_key_file(retired) == old_material
    new_material = read_key_file(key)
    assert new_material.master != old_material.master
    assert new_material.retired_index == (old_material.keys().index,)
    assert not (tmp_path / "dialer.key.new").exists()
    asyncio.run(_after_rotation(db, key, retired, clock, reasons, entries_before))
    with closing(raw(db)) as conn:
        assert conn.execute("SELECT number_sealed FROM contacts").fetchall() != sealed_before


async def _after_rotation(
    db: Path,
    key: Path,
    retired: Path,
    clock: Clock,
    reasons: dict[str, Reason],
    entries_before: int,
) -> None:
    with pytest.raises(KeyMismatchError, match="does not belong"):
        await Store.open(db, retired)
    store = await Store.open(db, key, clock=clock)
    try:
        report = await store.verify_audit()
        assert report.entries == entries_before + 2
        await store.check_integrity()
        school = rules(Purpose.SCHOOL, clock.now)
        for number, reason in reasons.items():
            facts = await store.consent.facts_for(number)
            assert decide(number, facts, school, clock.now).reason is reason, number
        # an erased number imported again is still recognised (layered index, C17)
        assert (await store.consent.facts_for(C)).erased
        assert (await store.consent.facts_for(A)).national_dnc
        (ada,) = [
            c for c in await store.contacts.contacts(1) if c.number == A
        ]  # re-sealed values open
        assert ada.fields == {"student_name": "Ada"}
        assert (await store.campaigns.get("fall")).caller_id == "+12125550100"
        assert [n for n, _, _ in await store.consent.caller_ids()] == ["+12125550100"]
        logged = await audit.entries(store.db)
        assert [e[2] for e in logged[-2:]] == ["key-rotated", "integrity-baseline"]
        revocation = next(e[3] for e in logged if e[2] == "revocation")
        assert revocation["number_hash"] == store.sealer.index(B)  # payloads re-indexed
        # and the rotated store keeps working
        await store.consent.revoke(A, RevocationChannel.STAFF)
        assert (await store.verify_audit()).entries == entries_before + 3
    finally:
        await store.close()


async def test_key_rotation_refuses_a_tampered_store_and_changes_nothing(tmp_path: Path) -> None:
    await _everything(tmp_path, Clock())
    db, key = tmp_path / "dialer.db", tmp_path / "dialer.key"
    with closing(raw(db)) as conn:
        conn.execute("DROP TRIGGER revocations_append_only")
        conn.execute("DELETE FROM revocations")
    data, key_text = db.read_bytes(), key.read_text()
    store = await Store.open(db, key)
    try:
        with pytest.raises(AuditChainError, match="revocations"):
            await store.rotate_key(key, "admin")
    finally:
        await store.close()
    assert db.read_bytes() == data and key.read_text() == key_text
    assert not _files(tmp_path, "dialer.key.*")


async def test_key_rotation_is_one_transaction(tmp_path: Path) -> None:
    """A value that cannot be re-sealed mid-way: nothing changed, no new key left."""
    await _everything(tmp_path, Clock())
    db, key = tmp_path / "dialer.db", tmp_path / "dialer.key"
    store = await Store.open(db, key)
    try:
        # a contact's sealed value the key cannot open (contacts carry no MAC): the
        # rotation fails after it has re-sealed and re-indexed other rows
        with closing(raw(db)) as conn:
            # the second contact (ids are (version << 32) + row, issue 11)
            conn.execute(
                "UPDATE contacts SET fields_sealed = x'00112233' WHERE id = "
                "(SELECT id FROM contacts ORDER BY id LIMIT 1 OFFSET 1)"
            )
        with pytest.raises(StoreError, match=r"cannot decrypt contacts\.fields_sealed"):
            await store.rotate_key(key, "admin")
        assert await store.key_fingerprint() == Sealer(read_key_file(key).keys()).fingerprint(
            (await store.db.fetchone("SELECT value FROM meta WHERE key = 'database_id'"))[0]
        )
    finally:
        await store.close()
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert not (tmp_path / "dialer.key.new").exists()
    assert not _files(tmp_path, "dialer.key.retired-*")
    store = await Store.open(db, key)  # the old key still opens it: nothing changed
    try:
        assert (await store.verify_audit()).entries > 0
    finally:
        await store.close()


async def test_key_rotation_stopped_before_the_rename_is_explained(tmp_path: Path) -> None:
    await _everything(tmp_path, Clock())
    db, key = tmp_path / "dialer.db", tmp_path / "dialer.key"
    store = await Store.open(db, key)
    try:
        await store.rotate_key(key, "admin")
    finally:
        await store.close()
    # as if the process died after the commit, before the key files were renamed
    retired = _files(tmp_path, "dialer.key.retired-*")[0]
    os.replace(key, tmp_path / "dialer.key.new")
    os.replace(retired, key)
    with pytest.raises(KeyMismatchError, match=r"rotation stopped half-way.*dialer\.key\.new"):
        await Store.open(db, key)
