"""The aiosqlite connection: pragmas, migrations, and serialised transactions.

WAL lets the engine, the hotline AGI script and the CLI read while one of them
writes; ``busy_timeout`` makes a writer wait for another instead of failing
with "database is locked". Every write goes through ``transaction()``, which
uses ``BEGIN IMMEDIATE`` so two processes never deadlock upgrading a read lock,
and which serialises this process's tasks on one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from dialer.errors import StoreError
from dialer.store.migrations import LATEST_VERSION, MIGRATIONS
from dialer.store.writegate import WriterGate
from dialer.store.writelock import WriteLock

#: a writer waits this long for another (a 1M-row consent import holds the lock
#: for about 25 s; the hotline and keypad revocations must outlast it, C5)
BUSY_TIMEOUT_MS = 30_000
#: the in-loop reader waits at most this long for a lock, then hands the query
#: to the aiosqlite thread (which waits the full BUSY_TIMEOUT_MS)
READER_BUSY_TIMEOUT_MS = 20
#: memory-mapped reads: page look-ups without a read() system call each (the
#: gate's look-up touches ~6 B-trees per number; measured 38 -> 24 us on 1M numbers)
MMAP_BYTES = 1 << 30

Clock = Callable[[], dt.datetime]
#: work that must happen inside a migration's own transaction, with the key
#: (``integrity.adopt``: the rows' MACs for the migration that added them)
MigrationHook = Callable[[aiosqlite.Connection], Awaitable[None]]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ts(moment: dt.datetime) -> str:
    """Fixed-width UTC text, so SQL text comparison orders like time."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    # isoformat is ~10x faster than strftime and always zero-pads (same text)
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"


def parse_ts(text: str) -> dt.datetime:
    # fromisoformat reads our fixed-width form ~40x faster than strptime (the
    # gate's look-up parses several per number, C2); other text takes the strict path
    if len(text) == 27 and text[-1] == "Z":
        return dt.datetime.fromisoformat(text)
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


class Database:
    """One aiosqlite connection plus a lock that serialises write transactions."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        #: revocations go first (writelock.py)
        self._write_lock = WriteLock()
        #: writers of every process queue here, not in SQLite's busy handler (issue 11)
        self.gate = WriterGate(path)
        self._reader: sqlite3.Connection | None = None
        #: called with each write transaction's seconds (lock wait included):
        #: the service's store write latency histogram (dialer_store_write_seconds)
        self.observe_write: Callable[[float], None] | None = None

    @classmethod
    async def open(cls, path: Path, *, migrate_to: int | None = LATEST_VERSION) -> Database:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            make_private(path)
            conn = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        db = cls(conn, path)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            # deleted data must not linger in free pages (C17, C18)
            await conn.execute("PRAGMA secure_delete = ON")
            await conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            # 32 MiB page cache: a 100,000-row import updates indices in hash
            # (random) order; the 2 MiB default spills pages to the WAL repeatedly
            await conn.execute("PRAGMA cache_size = -32768")
            if migrate_to is not None:
                await db.migrate(migrate_to)
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StoreError(f"{path} is not a usable dialer database: {exc}") from exc
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.gate.close()
        await self.conn.close()

    async def quick_read(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """A short indexed read (the gate's look-up, C2) run on the event loop itself.

        aiosqlite hands every call to its thread and back, ~50 us on this
        machine, more than the indexed query itself (~20 us). A read-only
        second connection in WAL mode sees every committed write at the start
        of each statement (a revocation committed a moment ago by the hotline
        process blocks this attempt, C6) and never waits for a writer, so it
        can run right here. If it ever meets a lock (a checkpoint or a WAL
        recovery in progress) it gives up after a few ms and the query goes
        to the aiosqlite thread instead, so the loop is never held long.
        Only for quick reads: results are fetched whole, no transaction stays open.
        """
        values = tuple(params)
        try:
            reader = self._reader or self._open_reader()
            return reader.execute(sql, values).fetchall()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise StoreError(f"database query failed: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"database query failed: {exc}") from exc
        try:
            return list(await self.conn.execute_fetchall(sql, values))
        except sqlite3.Error as exc:
            raise StoreError(f"database query failed: {exc}") from exc

    def _open_reader(self) -> sqlite3.Connection:
        reader = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=64
        )
        try:
            reader.execute(f"PRAGMA busy_timeout = {READER_BUSY_TIMEOUT_MS}")
            reader.execute("PRAGMA query_only = ON")
            reader.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        except sqlite3.Error:
            reader.close()
            raise
        self._reader = reader
        return reader

    async def ping(self) -> None:
        """One trivial query: the database answers (health checks)."""
        await self.fetchone("SELECT 1")

    async def version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(
        self, target: int = LATEST_VERSION, hooks: Mapping[int, MigrationHook] | None = None
    ) -> int:
        """Upgrade in place to ``target``; each step is one transaction (with its hook)."""
        current = await self.version()
        if current > LATEST_VERSION:
            raise StoreError(
                f"database {self.path} is version {current}, newer than this dialer "
                f"({LATEST_VERSION}); upgrade the dialer"
            )
        for version, sql in MIGRATIONS:
            if current < version <= target:
                async with self.transaction() as conn:
                    for statement in _split_sql(sql):
                        await conn.execute(statement)
                    if hooks and version in hooks:
                        await hooks[version](conn)
                    await conn.execute(f"PRAGMA user_version = {version}")
                current = version
        return current

    @asynccontextmanager
    async def transaction(
        self, *, durable: bool = False, wait_s: float | None = None, urgent: bool = False
    ) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``).

        ``durable``: commit with ``synchronous = FULL``, so the commit survives a
        power loss (WAL + NORMAL may lose the last commits; a revocation whose
        confirmation already played must not be lost, C10; issue 8).
        ``wait_s``: give up (StoreError) after this long waiting for this
        process's other writers and for other processes' locks, instead of the
        30 s ``BUSY_TIMEOUT_MS`` (a caller is waiting on the line).
        ``urgent``: served before this process's other waiting writers (a
        revocation, issue 11 item 4: writelock.py).
        """
        started = time.perf_counter()
        if wait_s is None:
            await self._write_lock.acquire(urgent=urgent)
        else:
            try:
                await asyncio.wait_for(self._write_lock.acquire(urgent=urgent), max(wait_s, 0.001))
            except TimeoutError:
                raise StoreError(
                    f"cannot start a transaction on {self.path}: another write in this "
                    f"process took longer than {wait_s:.1f} s"
                ) from None
        try:
            async with (
                self._gated(wait_s),
                self._pragmas(durable, wait_s),
                self._begin_commit() as conn,
            ):
                yield conn
            if self.observe_write is not None:
                self.observe_write(time.perf_counter() - started)
        finally:
            self._write_lock.release()

    @asynccontextmanager
    async def _pragmas(self, durable: bool, wait_s: float | None) -> AsyncIterator[None]:
        """Per-transaction connection settings, put back afterwards (lock held)."""
        try:
            if durable:
                await self.conn.execute("PRAGMA synchronous = FULL")
            if wait_s is not None:
                await self.conn.execute(f"PRAGMA busy_timeout = {max(int(wait_s * 1000), 1)}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot prepare a transaction on {self.path}: {exc}") from exc
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error, ValueError):
                if durable:
                    await self.conn.execute("PRAGMA synchronous = NORMAL")
                if wait_s is not None:
                    await self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @asynccontextmanager
    async def _begin_commit(self) -> AsyncIterator[aiosqlite.Connection]:
        try:
            await self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot start a transaction on {self.path}: {exc}") from exc
        try:
            yield self.conn
        except sqlite3.Error as exc:
            # translated at the boundary (errors.py): callers and the CLI see a
            # StoreError, and the whole transaction is gone (C3: all rows or none)
            await self._rollback()
            raise StoreError(f"write to {self.path} failed, nothing was saved: {exc}") from exc
        except BaseException:
            await self._rollback()
            raise
        try:
            await self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            await self._rollback()
            raise StoreError(f"cannot commit to {self.path}: {exc}") from exc

    @asynccontextmanager
    async def _gated(self, wait_s: float | None) -> AsyncIterator[None]:
        """Hold the writers' gate (see writegate.py) for one transaction."""
        if wait_s is None:
            await self.gate.acquire()
        else:
            await self.gate.acquire(max(wait_s, 0.001))
        try:
            yield
        finally:
            self.gate.release()

    async def _rollback(self) -> None:
        # SQLite may already have rolled back by itself (e.g. disk full); then
        # ROLLBACK fails with "no transaction is active", which is what we want
        with contextlib.suppress(sqlite3.Error):
            await self.conn.execute("ROLLBACK")

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        try:
            async with self.conn.execute(sql, tuple(params)) as cursor:
                row: sqlite3.Row | None = await cursor.fetchone()
                return row
        except sqlite3.Error as exc:
            raise StoreError(f"database query failed: {exc}") from exc

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        try:
            async with self.conn.execute(sql, tuple(params)) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"database query failed: {exc}") from exc


#: SQLite's companion files; it creates them with the database file's mode
SIDE_FILES = ("-wal", "-shm", "-journal")


def make_private(path: Path) -> None:
    """The database file is 0600 before SQLite opens it (C18: it holds student ids).

    SQLite creates its WAL and shared-memory files with the database file's
    permissions (os_unix.c findCreateFileMode), so they follow. A database
    (or companion file) an older version left readable by others is tightened.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        pass
    else:
        os.fchmod(fd, 0o600)  # the umask cannot loosen it, nor can it widen it
        os.close(fd)
    for candidate in (path, *(path.with_name(path.name + s) for s in SIDE_FILES)):
        try:
            mode = candidate.stat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_IMODE(mode) & 0o077:
            os.chmod(candidate, stat.S_IMODE(mode) & 0o600)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
