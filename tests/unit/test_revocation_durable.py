"""A revocation survives a failing store (issue 8 item 2; C5, C6, C10).

Real SQLite files, a real key, real file systems: a second connection holds
the write lock (what a large import in another process does), or the
database sits on a small tmpfs that is filled up (root only: it mounts one).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sqlite3
import stat
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from support.store import NUMBERS, T0, Clock, open_store, raw, rules

from dialer.consent.gate import decide
from dialer.consent.model import Purpose, Reason, RevocationChannel
from dialer.errors import StoreError
from dialer.store.journal import PREALLOCATED_BYTES, JournalEntry, journal_path

A, B = NUMBERS[3], NUMBERS[4]


@contextlib.contextmanager
def write_lock_held(db: Path) -> Iterator[sqlite3.Connection]:
    """Another process's writer: BEGIN IMMEDIATE and hold it."""
    conn = raw(db)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def revocation_rows(db: Path) -> list[tuple[str, str, str, str]]:
    with closing(raw(db)) as conn:
        return [
            tuple(r)
            for r in conn.execute(
                "SELECT number_hash, channel, received_at, COALESCE(source_ref, '') "
                "FROM revocations ORDER BY id"
            )
        ]


async def test_c10_revocation_commits_with_synchronous_full(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    statements: list[str] = []
    await store.db.conn.set_trace_callback(statements.append)
    try:
        result = await store.revoke_durably(A, RevocationChannel.KEYPAD, source_ref="call-1")
        await store.consent.add_company_dnc(B, "staff")  # an ordinary write, for contrast
    finally:
        await store.db.conn.set_trace_callback(None)
        await store.close()
    assert result.revocation_id is not None and not result.journaled
    insert = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO revocations"))
    begin = max(i for i in range(insert) if statements[i] == "BEGIN IMMEDIATE")
    full = max(i for i in range(begin) if "synchronous" in statements[i])
    assert statements[full] == "PRAGMA synchronous = FULL"
    commit = next(i for i in range(insert, len(statements)) if statements[i] == "COMMIT")
    assert statements[commit + 1 :].index("PRAGMA synchronous = NORMAL") >= 0
    # other writes keep the faster NORMAL setting (only opt-outs pay for FULL)
    dnc = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO dnc_company"))
    last_sync = max(i for i in range(dnc) if "synchronous" in statements[i])
    assert statements[last_sync] == "PRAGMA synchronous = NORMAL"


async def test_c5_held_write_lock_sends_the_revocation_to_the_journal_and_a_restart_stores_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "dialer.db"
    clock = Clock()
    store = await open_store(tmp_path, clock)
    try:
        with write_lock_held(db):
            started = dt.datetime.now()
            result = await store.revoke_durably(
                A, RevocationChannel.KEYPAD, source_ref="call-7", recorded_by="keypad", budget_s=0.6
            )
            waited = (dt.datetime.now() - started).total_seconds()
            assert result.journaled and result.journal_id
            assert 0.5 <= waited < 3.0  # retried within the budget, then journaled
            # C6: the next attempt is blocked although the store has no row yet
            facts = await store.consent.facts_for(A)
            assert facts.revoked_at == T0
            assert decide(A, facts, rules(Purpose.SCHOOL, T0), T0).reason is Reason.REVOKED
            many = await store.consent.facts_for_many([A, B])
            assert many[A].revoked_at == T0 and many[B].revoked_at is None
            assert revocation_rows(db) == []
    finally:
        await store.close()

    path = journal_path(db)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # C18
    data = path.read_bytes()
    assert A.encode() not in data and A[1:].encode() not in data  # sealed, no number (C18)

    # restart: the journal is replayed into the store before anything else
    store = await open_store(tmp_path, clock)
    try:
        rows = revocation_rows(db)
        assert rows == [(store.sealer.index(A), "keypad", "2026-03-02T16:00:00.000000Z", "call-7")]
        assert store.journal.pending() == ()
        report = await store.verify_audit()
        assert report.entries >= 1
        kinds = await store.db.fetchall("SELECT kind FROM audit WHERE kind = 'revocation'")
        assert len(kinds) == 1
    finally:
        await store.close()
    # a second restart replays nothing twice
    store = await open_store(tmp_path, clock)
    await store.close()
    assert len(revocation_rows(db)) == 1


async def test_c5_a_replay_never_doubles_a_revocation_already_stored(tmp_path: Path) -> None:
    """A commit can report failure after it succeeded; the replay must then skip it."""
    store = await open_store(tmp_path)
    try:
        stored = await store.revoke_durably(A, RevocationChannel.SMS, source_ref="SM1")
        entry = JournalEntry.new(
            number_hash=stored.number_hash,
            channel="sms",
            received_at="2026-03-02T16:00:00.000000Z",
            journaled_at="2026-03-02T16:00:00.000000Z",
            source_ref="SM1",
        )
        store.journal.append(entry)
        assert await store.replay_revocation_journal() == 0
        assert store.journal.pending() == ()
    finally:
        await store.close()
    assert len(revocation_rows(tmp_path / "dialer.db")) == 1


async def test_c5_the_running_engine_moves_the_journal_into_the_store_once_it_recovers(
    tmp_path: Path,
) -> None:
    db = tmp_path / "dialer.db"
    store = await open_store(tmp_path)
    try:
        with write_lock_held(db):
            result = await store.revoke_durably(A, RevocationChannel.HOTLINE, budget_s=0.2)
        assert result.journaled
        # no restart: the background task replays within a few seconds (the row is
        # committed a moment before the journal entry is dropped: wait for both)
        for _ in range(100):
            if revocation_rows(db) and store.journal.pending() == ():
                break
            await asyncio.sleep(0.1)
        assert len(revocation_rows(db)) == 1
        assert store.journal.pending() == ()
    finally:
        await store.close()


async def test_c6_another_process_journal_entry_blocks_this_process_gate(tmp_path: Path) -> None:
    """The hotline (its own process) journals; the engine's very next gate sees it."""
    db = tmp_path / "dialer.db"
    engine = await open_store(tmp_path)
    hotline = await open_store(tmp_path)
    try:
        assert (await engine.consent.facts_for(A)).revoked_at is None
        with write_lock_held(db):
            await hotline.revoke_durably(A, RevocationChannel.HOTLINE, budget_s=0.2)
            assert (await engine.consent.facts_for(A)).revoked_at == T0
    finally:
        await hotline.close()
        await engine.close()


async def test_journal_entries_survive_a_torn_write_after_them(tmp_path: Path) -> None:
    """A crash in the middle of an append (never acknowledged) costs no earlier entry."""
    db = tmp_path / "dialer.db"
    store = await open_store(tmp_path)
    try:
        with write_lock_held(db):
            await store.revoke_durably(A, RevocationChannel.KEYPAD, budget_s=0.1)
        end = store.journal.snapshot().end
    finally:
        await store.close()
    with journal_path(db).open("r+b") as f:  # half a record: length, crc, a few bytes
        f.seek(end)
        f.write((500).to_bytes(4, "big") + b"\x01\x02\x03\x04" + b"garbage")
    store = await open_store(tmp_path)
    try:
        assert len(revocation_rows(db)) == 1
        with write_lock_held(db):
            again = await store.revoke_durably(B, RevocationChannel.KEYPAD, budget_s=0.1)
        assert again.journaled
        assert [e.number_hash for e in store.journal.pending()] == [store.sealer.index(B)]
    finally:
        await store.close()


async def test_journal_with_a_foreign_key_is_refused_not_skipped(tmp_path: Path) -> None:
    db = tmp_path / "dialer.db"
    store = await open_store(tmp_path)
    try:
        with write_lock_held(db):
            await store.revoke_durably(A, RevocationChannel.KEYPAD, budget_s=0.1)
    finally:
        await store.close()
    other = tmp_path / "other"
    other.mkdir()
    (other / "dialer.db").write_bytes(b"")
    os.replace(journal_path(db), journal_path(other / "dialer.db"))
    store = await open_store(other)  # its own new key: cannot read the entry
    try:
        with pytest.raises(StoreError, match="key file does not match"):
            store.journal.pending()
    finally:
        await store.close()


# -- a real full disk (tmpfs) ------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: a real file system that runs out of space."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the full-disk test needs root (mount)")
        pytest.skip("the full-disk test needs root (mount)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system says ENOSPC."""
    filler = directory / f"filler-{uuid.uuid4().hex[:6]}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * 4096
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, block)
    finally:
        os.close(fd)
    return filler


async def test_c5_full_disk_journals_the_revocation_and_a_restart_stores_it(
    small_disk: Path,
) -> None:
    db = small_disk / "dialer.db"
    store = await open_store(small_disk)
    await store.close()  # the WAL is checkpointed and removed: the next write needs space
    store = await open_store(small_disk)
    try:
        await store.consent.facts_for(A)
        filler = fill(small_disk)
        with pytest.raises(StoreError):
            await store.consent.add_company_dnc(B, "staff")  # the disk really is full
        result = await store.revoke_durably(A, RevocationChannel.KEYPAD, source_ref="call-9")
        assert result.journaled
        assert journal_path(db).stat().st_size == PREALLOCATED_BYTES
    finally:
        await store.close()
    filler.unlink()
    store = await open_store(small_disk)
    try:
        assert revocation_rows(db)[0][1:] == ("keypad", "2026-03-02T16:00:00.000000Z", "call-9")
        assert store.journal.pending() == ()
    finally:
        await store.close()


async def test_c5_when_neither_store_nor_journal_can_take_it_the_caller_is_not_told_it_worked(
    small_disk: Path,
) -> None:
    db = small_disk / "dialer.db"
    store = await open_store(small_disk)
    await store.close()
    journal_path(db).unlink()  # as if it could not be created when this process started
    store = await open_store(small_disk)
    try:
        journal_path(db).unlink()
        store.journal.close()
        fill(small_disk)
        with pytest.raises(StoreError, match="could not be recorded"):
            await store.revoke_durably(A, RevocationChannel.KEYPAD, budget_s=0.3)
    finally:
        await store.close()
