"""Versioned migrations, WAL, and concurrent writers on one real database file.

The concurrency tests use what runs in production: two ``Store`` instances
(two connections, like the engine and the hotline AGI script) in one process,
and a second OS process writing at the same time as this one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest
from support.store import CALLER_ID, NUMBERS, Clock, consent, counts, key_file, open_store, raw

from dialer.consent.crypto import Sealer, load_keys
from dialer.consent.model import Purpose, RevocationChannel
from dialer.errors import IntegrityError, KeyMismatchError, StoreError
from dialer.store import audit
from dialer.store.db import Database, ts
from dialer.store.migrations import LATEST_VERSION, MIGRATIONS
from dialer.store.store import Store

REPO = Path(__file__).resolve().parents[2]


def _tables(db: Path) -> set[str]:
    with closing(raw(db)) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


async def _legacy_v1_database(root: Path, clock: Clock) -> Path:
    """A version-1 database as the dialer of that time wrote it: consents, a
    revocation, a contact and a caller ID with values sealed without associated
    data, and an audit chain whose head had no seal."""
    path = root / "dialer.db"
    sealer = Sealer(load_keys(key_file(root)))
    db = await Database.open(path, migrate_to=1)
    now = clock.now
    at = ts(now)
    try:
        async with db.transaction() as conn:
            for i, (number, scope, written) in enumerate(
                ((NUMBERS[1], "school", 0), (NUMBERS[3], "telemarketing", 1)), start=1
            ):
                await conn.execute(
                    "INSERT INTO consents (id, number_hash, contact_sealed, scope, source, "
                    "method, obtained_at, disclosure_sha256, evidence_ref, signature_ref, "
                    "written, recorded_at, recorded_by) VALUES (?, ?, ?, ?, 'enrollment', "
                    "'form', ?, ?, 'SIS:1', ?, ?, ?, 'staff')",
                    (
                        i,
                        sealer.index(number),
                        sealer.seal(f"parent {i}"),
                        scope,
                        ts(now - dt.timedelta(days=30)),
                        "a" * 64,
                        "esign:1" if written else None,
                        written,
                        at,
                    ),
                )
            await conn.execute(
                "INSERT INTO revocations (id, number_hash, channel, received_at, recorded_at, "
                "source_ref, recorded_by) VALUES (1, ?, 'keypad', ?, ?, 'call:1', 'keypad')",
                (sealer.index(NUMBERS[2]), at, at),
            )
            await conn.execute(
                "INSERT INTO contact_lists (id, name, created_at) VALUES (1, 'old', ?)", (at,)
            )
            await conn.execute(
                "INSERT INTO contacts (id, list_id, external_id, number_hash, number_sealed, "
                "language, created_at) VALUES (1, 1, 's1', ?, ?, 'en', ?)",
                (sealer.index(NUMBERS[1]), sealer.seal(NUMBERS[1]), at),
            )
            await conn.execute(
                "INSERT INTO caller_ids (number_hash, number_sealed, label, added_at) "
                "VALUES (?, ?, 'office', ?)",
                (sealer.index(CALLER_ID), sealer.seal(CALLER_ID), at),
            )
            entries = audit.chain(
                sealer,
                [
                    ("consent", {"consent_id": 1, "number_hash": sealer.index(NUMBERS[1])}),
                    ("revocation", {"revocation_id": 1, "number_hash": sealer.index(NUMBERS[2])}),
                    ("consent", {"consent_id": 2, "number_hash": sealer.index(NUMBERS[3])}),
                ],
                now,
                (0, audit.GENESIS),
            )
            await conn.executemany(
                "INSERT INTO audit (seq, at, kind, payload, prev, mac) VALUES (?, ?, ?, ?, ?, ?)",
                entries,
            )
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('audit_head', ?)",
                (f"{entries[-1][0]}:{entries[-1][5]}",),
            )
    finally:
        await db.close()
    return path


async def test_migrations_upgrade_a_version_1_database_in_place(tmp_path: Path) -> None:
    clock = Clock()
    path = await _legacy_v1_database(tmp_path, clock)
    assert "recordings" not in _tables(path)  # added by migration 2
    assert "consents_by_number" in _tables(path)  # replaced by migration 3
    before = counts(path)

    store = await Store.open(path, key_file(tmp_path), clock=clock)
    try:
        assert await store.db.version() == LATEST_VERSION == MIGRATIONS[-1][0]
        assert counts(path) == {**before, "audit": before["audit"] + 1}  # data intact
        facts = await store.consent.facts_for(NUMBERS[1])
        assert [c.scope for c in facts.consents] == [Purpose.SCHOOL]  # its MAC was adopted
        assert (await store.consent.facts_for(NUMBERS[2])).revoked_at == clock.now
        assert (await store.consent.facts_for(NUMBERS[3])).consents[0].written
        # values sealed before associated data existed are bound to their rows now
        (contact,) = await store.contacts.contacts(1)
        assert contact.number == NUMBERS[1]
        assert [n for n, _, _ in await store.consent.caller_ids()] == [CALLER_ID]
        # the chain spans the upgrade; the baseline entry accounts for the old rows
        entries = await audit.entries(store.db)
        assert [e[2] for e in entries] == ["consent", "revocation", "consent", "integrity-baseline"]
        assert entries[-1][3]["tables"]["consents"][0] == 2
        assert (await store.verify_audit()).entries == 4
        assert (await store.check_integrity()).rows_counted == 2
        await store.consent.add_consent(consent(NUMBERS[4]), "staff")
        assert (await store.verify_audit()).entries == 5
    finally:
        await store.close()
    tables = _tables(path)
    assert {"recordings", "consents_gate", "attempts_gate"} <= tables
    assert "consents_by_number" not in tables
    with closing(raw(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
        # a row the log accounted for at the baseline, deleted afterwards, is detected
        conn.execute("DROP TRIGGER revocations_append_only")
        conn.execute("DELETE FROM revocations")

    # opening again is a no-op for the schema; the deletion is found
    again = await Store.open(path, key_file(tmp_path))
    try:
        assert await again.db.version() == LATEST_VERSION
        with pytest.raises(IntegrityError, match="revocations"):
            await again.verify_audit()
        with pytest.raises(IntegrityError, match=r"refusing to dial.*revocations"):
            await again.check_integrity()
    finally:
        await again.close()


async def test_migrations_refuse_a_legacy_database_with_another_key(tmp_path: Path) -> None:
    """The key is checked before the upgrade writes anything (its first audit entry)."""
    path = await _legacy_v1_database(tmp_path, Clock())
    other = tmp_path / "other"
    other.mkdir()
    data = path.read_bytes()
    with pytest.raises(KeyMismatchError, match="does not belong to database"):
        await Store.open(path, key_file(other))
    with closing(raw(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # not upgraded
    assert path.read_bytes() == data


async def test_migrations_refuse_a_database_from_the_future(tmp_path: Path) -> None:
    path = tmp_path / "dialer.db"
    store = await open_store(tmp_path)
    await store.close()
    with closing(raw(path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="version 99, newer than this dialer"):
        await Store.open(path, key_file(tmp_path))
    with closing(raw(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99  # left alone


async def test_store_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "dialer.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable dialer database"):
        await Store.open(path, key_file(tmp_path))


async def test_store_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        mode = await store.db.fetchone("PRAGMA journal_mode")
        timeout = await store.db.fetchone("PRAGMA busy_timeout")
        assert mode is not None and mode[0] == "wal"
        assert timeout is not None and timeout[0] >= 5000
    finally:
        await store.close()
    with closing(raw(tmp_path / "dialer.db")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent


async def test_two_connections_write_concurrently_without_locking_errors(tmp_path: Path) -> None:
    """Engine and hotline: hundreds of interleaved consents and revocations, reads in
    between, no 'database is locked', every write and its audit entry kept."""
    engine = await open_store(tmp_path)
    hotline = await open_store(tmp_path)
    ops = 300
    try:

        async def engine_work() -> None:
            for i in range(ops):
                await engine.consent.add_consent(consent(NUMBERS[i % 100]), "engine")
                if i % 10 == 0:
                    await engine.consent.facts_for(NUMBERS[(i * 7) % 100])

        async def hotline_work() -> None:
            for i in range(ops):
                await hotline.consent.revoke(
                    NUMBERS[(i * 3) % 100], RevocationChannel.HOTLINE, source_ref=f"agi:{i}"
                )
                if i % 10 == 0:
                    await hotline.consent.facts_for_many(list(NUMBERS[:20]))

        await asyncio.gather(engine_work(), hotline_work())
        after = counts(engine.db.path)
        assert (after["consents"], after["revocations"], after["audit"]) == (ops, ops, 2 * ops)
        assert (await hotline.verify_audit()).entries == 2 * ops
    finally:
        await engine.close()
        await hotline.close()


async def test_another_process_writes_while_this_one_does(tmp_path: Path) -> None:
    """A real second OS process (the hotline AGI script is one) revokes while this
    process imports consents in big transactions and writes single consents."""
    store = await open_store(tmp_path)
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from dialer.consent.model import RevocationChannel
        from dialer.store.store import Store

        async def main():
            store = await Store.open(Path({str(tmp_path / "dialer.db")!r}),
                                     Path({str(key_file(tmp_path))!r}))
            try:
                for i in range(200):
                    await store.consent.revoke("+1212555{{:04d}}".format(100 + i % 100),
                                               RevocationChannel.HOTLINE, source_ref=str(i))
            finally:
                await store.close()
            print("hotline done")

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        for round_ in range(20):
            batch = [consent(n, evidence_ref=f"r{round_}") for n in NUMBERS]
            await store.consent.import_batch(batch, "engine", f"batch-{round_}")
            await store.consent.add_consent(consent(NUMBERS[round_]), "engine")
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()
        assert b"hotline done" in out
        after = counts(store.db.path)
        assert after["consents"] == 20 * (len(NUMBERS) + 1)
        assert after["revocations"] == 200
        # every consent, revocation and batch publication (issue 11) has its entry
        assert (await store.verify_audit()).entries == after["consents"] + 200 + 20
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await store.close()
