"""Versioned migrations, WAL, and concurrent writers on one real database file.

The concurrency tests use what runs in production: two ``Store`` instances
(two connections, like the engine and the hotline AGI script) in one process,
and a second OS process writing at the same time as this one.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest
from support.store import NUMBERS, Clock, consent, counts, key_file, open_store, raw

from dialer.consent.crypto import Sealer, load_keys
from dialer.consent.model import Purpose, RevocationChannel
from dialer.errors import StoreError
from dialer.store.consent import ConsentStore
from dialer.store.db import Database
from dialer.store.migrations import LATEST_VERSION, MIGRATIONS
from dialer.store.store import Store

REPO = Path(__file__).resolve().parents[2]


def _tables(db: Path) -> set[str]:
    with closing(raw(db)) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


async def test_migrations_upgrade_a_version_1_database_in_place(tmp_path: Path) -> None:
    path = tmp_path / "dialer.db"
    sealer = Sealer(load_keys(key_file(tmp_path)))
    clock = Clock()
    db = await Database.open(path, migrate_to=1)
    try:
        assert await db.version() == 1
        v1 = ConsentStore(db, sealer, clock)
        await v1.add_consent(consent(NUMBERS[1]), "staff")
        await v1.revoke(NUMBERS[2], RevocationChannel.KEYPAD, source_ref="call:1")
        await v1.add_consent(consent(NUMBERS[3], Purpose.TELEMARKETING), "staff")
    finally:
        await db.close()
    assert "recordings" not in _tables(path)  # added by migration 2
    assert "consents_by_number" in _tables(path)  # replaced by migration 3
    before = counts(path)

    store = await Store.open(path, key_file(tmp_path), clock=clock)
    try:
        assert await store.db.version() == LATEST_VERSION == MIGRATIONS[-1][0]
        assert counts(path) == before  # data intact
        facts = await store.consent.facts_for(NUMBERS[1])
        assert [c.scope for c in facts.consents] == [Purpose.SCHOOL]
        assert (await store.consent.facts_for(NUMBERS[2])).revoked_at == clock.now
        assert (await store.consent.facts_for(NUMBERS[3])).consents[0].written
        assert (await store.verify_audit()).entries == 3  # the chain spans the upgrade
        await store.consent.add_consent(consent(NUMBERS[4]), "staff")
    finally:
        await store.close()
    tables = _tables(path)
    assert {"recordings", "consents_gate", "attempts_gate"} <= tables
    assert "consents_by_number" not in tables
    with closing(raw(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION

    # opening again is a no-op
    again = await Store.open(path, key_file(tmp_path))
    try:
        assert await again.db.version() == LATEST_VERSION
        assert (await again.verify_audit()).entries == 4
    finally:
        await again.close()


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
        assert (await store.verify_audit()).entries == after["consents"] + 200
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await store.close()
