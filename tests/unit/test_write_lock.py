"""Revocations go ahead of this process's queued writers (store/writelock.py, issue 11 item 4)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dialer.store.db import Database
from dialer.store.writelock import WriteLock


async def _queue(lock: WriteLock, name: str, order: list[str], *, urgent: bool = False) -> None:
    await lock.acquire(urgent=urgent)
    order.append(name)
    await asyncio.sleep(0)
    lock.release()


async def test_urgent_waiters_go_first_and_each_kind_keeps_its_order() -> None:
    lock = WriteLock()
    await lock.acquire()
    order: list[str] = []
    tasks = [asyncio.create_task(_queue(lock, f"w{i}", order)) for i in range(5)]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(_queue(lock, f"r{i}", order, urgent=True)) for i in range(2)]
    await asyncio.sleep(0)
    lock.release()
    await asyncio.gather(*tasks)
    assert order == ["r0", "r1", "w0", "w1", "w2", "w3", "w4"]
    assert not lock.locked()


async def test_a_waiter_that_gives_up_leaves_the_lock_usable() -> None:
    lock = WriteLock()
    await lock.acquire()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(lock.acquire(urgent=True), 0.01)
    assert lock.waiting == 0
    lock.release()
    assert not lock.locked()
    await asyncio.wait_for(lock.acquire(), 0.1)  # free at once
    lock.release()


async def test_cancelled_right_after_the_hand_over_passes_the_lock_on() -> None:
    lock = WriteLock()
    await lock.acquire()
    first = asyncio.create_task(lock.acquire())
    order: list[str] = []
    second = asyncio.create_task(_queue(lock, "second", order))
    await asyncio.sleep(0)
    lock.release()  # handed to ``first`` ...
    first.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    assert order == ["second"] and not lock.locked()


async def test_c5_a_revocation_commits_before_a_queue_of_ordinary_writes(tmp_path: Path) -> None:
    """Real SQLite: 200 writes queued behind a held transaction; the urgent one is next."""
    db = await Database.open(tmp_path / "t.db", migrate_to=None)
    try:
        await db.conn.execute("CREATE TABLE t (what TEXT)")
        order: list[str] = []

        async def write(what: str, *, urgent: bool = False) -> None:
            async with db.transaction(urgent=urgent, wait_s=5.0 if urgent else None) as conn:
                await conn.execute("INSERT INTO t VALUES (?)", (what,))
            order.append(what)

        held = asyncio.Event()
        release = asyncio.Event()

        async def holder() -> None:
            async with db.transaction():
                held.set()
                await release.wait()

        hold = asyncio.create_task(holder())
        await held.wait()
        bulk = [asyncio.create_task(write(f"w{i}")) for i in range(200)]
        await asyncio.sleep(0.01)
        revocation = asyncio.create_task(write("revocation", urgent=True))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(hold, revocation, *bulk)
        assert order[0] == "revocation"
        assert order[1:] == [f"w{i}" for i in range(200)]
        rows = await db.fetchall("SELECT what FROM t")
        assert len(rows) == 201
    finally:
        await db.close()
