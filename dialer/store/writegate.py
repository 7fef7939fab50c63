"""Who writes next: revocations never wait behind bulk work (issue 11 item 4, C5, C6).

SQLite lets one connection write at a time. A connection that finds the
database locked sleeps in its busy handler with growing pauses (1, 2, 5, 10,
15, 20, 25, ... 100 ms) and retries; it is never woken when the lock frees.
Against a bulk loader that commits a chunk every few tens of milliseconds,
that waiter keeps waking into the next chunk: a staff revocation measured
13 s behind a million-row import.

So every writer of this store first takes an exclusive ``flock`` on
``<database>.writers`` and holds it for its transaction: writers queue on the
gate, not in SQLite's busy handler. Waiters poll the gate every millisecond,
and while they wait they hold a shared lock on ``<database>.writers-waiting``.
A bulk loader holds the gate for one chunk (bounded to ~50 ms by its chunk
size); after each chunk, if anyone is waiting, it pauses a few milliseconds
before taking the gate again, so a waiting revocation gets in within one
chunk (and nobody waiting costs the loader nothing). ``flock`` locks belong to an open
file, not a process: two connections in one process exclude each other too,
and a process that dies releases its lock at once.

The gate only orders writers; SQLite's own locking still guarantees
correctness. A store whose gate file cannot be opened (another user's file,
read-only folder) writes without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from pathlib import Path

from dialer.errors import StoreError

#: how often a waiting writer retries the gate
POLL_S = 0.001
#: a bulk writer's pause after each chunk: enough for every polling waiter to get in
BULK_PAUSE_S = 0.003
#: give up after this long (a writer holding the gate longer is stuck)
DEFAULT_WAIT_S = 30.0


def gate_path(database: Path) -> Path:
    return database.with_name(database.name + ".writers")


def _open_lock(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None  # see the module docstring: SQLite's locking alone


class WriterGate:
    """An exclusive ``flock`` on ``<database>.writers``, taken around each write."""

    def __init__(self, database: Path) -> None:
        self.path = gate_path(database)
        self._held = False
        self._fd = _open_lock(self.path)
        self._waiting_fd = _open_lock(self.path.with_name(self.path.name + "-waiting"))

    def try_acquire(self) -> bool:
        if self._fd is None:
            self._held = True
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._held = True
        return True

    async def acquire(self, wait_s: float = DEFAULT_WAIT_S) -> None:
        if self.try_acquire():
            return
        deadline = time.monotonic() + wait_s
        self._announce(True)
        try:
            while not self.try_acquire():
                self._check(deadline, wait_s)
                await asyncio.sleep(POLL_S)
        finally:
            self._announce(False)

    def acquire_sync(self, wait_s: float = DEFAULT_WAIT_S) -> None:
        if self.try_acquire():
            return
        deadline = time.monotonic() + wait_s
        self._announce(True)
        try:
            while not self.try_acquire():
                self._check(deadline, wait_s)
                time.sleep(POLL_S)
        finally:
            self._announce(False)

    def _check(self, deadline: float, wait_s: float) -> None:
        if time.monotonic() > deadline:
            raise StoreError(
                f"the store is busy: another writer has held {self.path} for over {wait_s:g} s"
            )

    def _announce(self, waiting: bool) -> None:
        """Hold (or drop) a shared lock on the waiting file while waiting."""
        if self._waiting_fd is None:
            return
        # a bulk writer probing right now holds it exclusively for microseconds:
        # then this waiter is not seen this once, and the loader does not pause
        with contextlib.suppress(OSError):
            if waiting:
                fcntl.flock(self._waiting_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            else:
                fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)

    def others_waiting(self) -> bool:
        """Whether another writer waits for the gate (a bulk writer asks)."""
        if self._waiting_fd is None:
            return True
        try:
            fcntl.flock(self._waiting_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)
        return False

    def pause_for_waiters(self) -> None:
        """After a bulk chunk: let whoever waits in before the next chunk."""
        if self.others_waiting():
            time.sleep(BULK_PAUSE_S)

    def release(self) -> None:
        if self._held and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._held = False

    def close(self) -> None:
        self.release()
        for fd in (self._fd, self._waiting_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._waiting_fd = None
