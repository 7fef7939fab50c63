"""The revocation journal: where an opt-out goes when the database cannot take it (C5, C10).

A caller who pressed 9 hears "you will not be called again" only once the
revocation is durable *somewhere* (issue 8 item 2). When the SQLite store
stays unavailable (lock held for longer than the budget, disk full, I/O
error), :func:`dialer.store.revocation.revoke_durably` appends the revocation
here and fsyncs it; every process that opens the store replays the journal
into the database before anything is dialled, and the gate honours entries
that are still waiting (C6).

The file lives next to the database (``<db>.revocation-journal``), mode 0600
(C18), and is *preallocated*: on a full disk, SQLite cannot grow its WAL, but
writing into blocks this file already owns still works. Layout::

    header  (24 bytes)  magic "DIALRJ1\\n" | generation u64 | start u64
    records (from byte 24)  length u32 | crc32 u32 | sealed entry (AES-GCM)
    zeros   (the rest of the preallocated space)

- ``generation`` changes with every append and every replay, so a reader
  notices new entries with one 24-byte ``pread`` (the gate calls it before
  every attempt; cheaper than ``stat``, whose mtime is too coarse);
- ``start`` is where the entries not yet replayed begin: a replay moves it
  forward instead of rewriting records, so a crash at any moment loses nothing
  (a replay that runs twice is harmless: the store skips entries it has);
- a record whose crc does not match is a torn write from a crash before its
  fsync, i.e. a revocation nobody was told about: it marks the end;
- entries hold the keyed hash of the number, never the number (C18), and are
  sealed with the store's key, so the file is as opaque as the database.

Appends and replays from several processes (engine, hotline AGI, CLI) are
serialised with ``flock`` on the file itself.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import mmap
import os
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from dialer.consent.crypto import Sealer
from dialer.errors import StoreError

__all__ = [
    "JOURNAL_SUFFIX",
    "JournalEntry",
    "JournalSnapshot",
    "RevocationJournal",
    "journal_path",
]

JOURNAL_SUFFIX = ".revocation-journal"
_MAGIC = b"DIALRJ1\n"
_HEADER = struct.Struct(">8sQQ")
_RECORD = struct.Struct(">II")
_GENERATION = struct.Struct(">Q")
#: room for ~250 revocations before the file must grow (an entry seals to ~250 bytes)
PREALLOCATED_BYTES = 64 * 1024
#: AES-GCM associated data: a journal record cannot be passed off as any other sealed value
_SEAL_CONTEXT = b"dialer/revocation-journal"
#: a record longer than this is not ours (a corrupt length field)
_MAX_RECORD = 16 * 1024


def journal_path(db_path: Path) -> Path:
    # never "<db>-journal": that is SQLite's own rollback journal name
    return db_path.with_name(db_path.name + JOURNAL_SUFFIX)


@dataclass(frozen=True)
class JournalEntry:
    """One revocation waiting for the store (the fields of a revocations row)."""

    id: str
    number_hash: str
    channel: str
    received_at: str  # store text form (db.ts)
    journaled_at: str
    source_ref: str = ""
    recorded_by: str = "system"
    #: hotline caller-ID attestation (STIR/SHAKEN verification result), if any
    attestation: str = ""

    @classmethod
    def new(
        cls,
        *,
        number_hash: str,
        channel: str,
        received_at: str,
        journaled_at: str,
        source_ref: str = "",
        recorded_by: str = "system",
        attestation: str = "",
    ) -> JournalEntry:
        return cls(
            id=uuid.uuid4().hex,
            number_hash=number_hash,
            channel=channel,
            received_at=received_at,
            journaled_at=journaled_at,
            source_ref=source_ref,
            recorded_by=recorded_by,
            attestation=attestation,
        )


@dataclass(frozen=True)
class JournalSnapshot:
    """The entries not yet replayed, as of one ``generation`` of the file."""

    generation: int
    start: int
    end: int
    entries: tuple[JournalEntry, ...]

    @functools.cached_property
    def latest_by_hash(self) -> Mapping[str, str]:
        """number hash -> latest received-at among the waiting entries."""
        latest: dict[str, str] = {}
        for entry in self.entries:
            if entry.received_at > latest.get(entry.number_hash, ""):
                latest[entry.number_hash] = entry.received_at
        return latest


class RevocationJournal:
    """The journal file of one database (see the module docstring)."""

    def __init__(self, path: Path, sealer: Sealer) -> None:
        self.path = path
        self._sealer = sealer
        self._fd: int | None = None
        self._header: mmap.mmap | None = None
        self._cached: JournalSnapshot | None = None
        # flock excludes other processes only: threads of this one share the
        # open file description, so they also take this lock
        self._thread_lock = threading.Lock()

    # -- opening ----------------------------------------------------------------

    def open(self) -> None:
        """Create (0600, preallocated) or open the file. Raises StoreError."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            created = True
        except FileExistsError:
            fd = self._open_existing()
            created = False
        except OSError as exc:
            raise StoreError(
                f"cannot create the revocation journal {self.path}: {exc.strerror}"
            ) from exc
        try:
            if created:
                # O_CREAT's mode is filtered by the umask: say 0600 explicitly (C18)
                os.fchmod(fd, 0o600)
                os.posix_fallocate(fd, 0, PREALLOCATED_BYTES)
                os.pwrite(fd, _HEADER.pack(_MAGIC, 1, _HEADER.size), 0)
                os.fsync(fd)
                _fsync_dir(self.path.parent)
            else:
                self._check_header(fd)
        except OSError as exc:
            os.close(fd)
            if created:
                with contextlib.suppress(OSError):
                    self.path.unlink()
            raise StoreError(
                f"cannot prepare the revocation journal {self.path}: {exc.strerror}"
            ) from exc
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:
            # the header, mapped: the gate reads the generation before every attempt
            # without a system call (the page cache is shared with every writer)
            self._header = mmap.mmap(fd, _HEADER.size, mmap.MAP_SHARED, mmap.PROT_READ)
        except (OSError, ValueError):  # a file too short to map: read it instead
            self._header = None

    def _open_existing(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise StoreError(
                f"cannot open the revocation journal {self.path}: {exc.strerror}"
            ) from exc

    def _check_header(self, fd: int) -> None:
        raw = os.pread(fd, _HEADER.size, 0)
        if len(raw) < _HEADER.size:
            # created by a process that died before writing the header: nothing in it
            os.posix_fallocate(fd, 0, PREALLOCATED_BYTES)
            os.pwrite(fd, _HEADER.pack(_MAGIC, 1, _HEADER.size), 0)
            os.fsync(fd)
            return
        magic, _generation, _start = _HEADER.unpack(raw)
        if magic == b"\0" * len(_MAGIC):
            os.pwrite(fd, _HEADER.pack(_MAGIC, 1, _HEADER.size), 0)
            os.fsync(fd)
        elif magic != _MAGIC:
            raise StoreError(f"{self.path} is not a dialer revocation journal")

    def close(self) -> None:
        header, self._header = self._header, None
        if header is not None:
            header.close()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    # -- writing ----------------------------------------------------------------

    def append(self, entry: JournalEntry) -> None:
        """Append and fsync one entry; when this returns, the revocation is durable."""
        fd = self._require_fd()
        sealed = self._sealer.seal(json.dumps(asdict(entry), sort_keys=True), _SEAL_CONTEXT)
        # a zero terminator after the record: whatever a torn write left behind
        # further on is never read as a continuation
        record = _RECORD.pack(len(sealed), zlib.crc32(sealed)) + sealed + b"\0" * _RECORD.size
        with self._locked(fd):
            try:
                snapshot = self._scan(fd)
                size = os.fstat(fd).st_size
                needed = snapshot.end + len(record)
                if needed > size:
                    os.posix_fallocate(fd, 0, max(needed, size * 2))
                _pwrite_all(fd, record, snapshot.end)
                self._write_header(fd, snapshot.generation + 1, snapshot.start)
                os.fsync(fd)
            except OSError as exc:
                raise StoreError(
                    f"cannot write the revocation journal {self.path}: {exc.strerror}"
                ) from exc

    def mark_replayed(self, upto: int) -> None:
        """Entries before byte ``upto`` are in the store now; forget them."""
        fd = self._require_fd()
        with self._locked(fd):
            try:
                snapshot = self._scan(fd)
                if upto <= snapshot.start:
                    return
                if upto >= snapshot.end:
                    # all replayed: wipe the records so the file starts empty again.
                    # header first: a crash before the wipe only replays twice
                    self._write_header(fd, snapshot.generation + 1, _HEADER.size)
                    os.fsync(fd)
                    _pwrite_all(fd, b"\0" * (snapshot.end - _HEADER.size), _HEADER.size)
                else:
                    self._write_header(fd, snapshot.generation + 1, upto)
                os.fsync(fd)
            except OSError as exc:
                raise StoreError(
                    f"cannot update the revocation journal {self.path}: {exc.strerror}"
                ) from exc

    # -- reading ----------------------------------------------------------------

    def generation(self) -> int:
        """The header's change counter (a memory read; no lock needed)."""
        fd = self._require_fd()
        if self._header is not None:
            return int(_GENERATION.unpack_from(self._header, 8)[0])
        try:
            raw = os.pread(fd, _HEADER.size, 0)
        except OSError as exc:
            raise StoreError(f"cannot read the revocation journal {self.path}") from exc
        if len(raw) < _HEADER.size:
            return 0
        return int(_HEADER.unpack(raw)[1])

    def pending(self) -> tuple[JournalEntry, ...]:
        """Entries not yet replayed (cached until the generation changes)."""
        return self.snapshot().entries

    def pending_by_hash(self) -> Mapping[str, str]:
        """number hash -> latest received-at of the waiting entries (for the gate)."""
        return self.snapshot().latest_by_hash

    def snapshot(self) -> JournalSnapshot:
        fd = self._require_fd()
        cached = self._cached
        if cached is not None and cached.generation == self.generation():
            return cached
        with self._locked(fd, shared=True):
            try:
                snapshot = self._scan(fd)
            except OSError as exc:
                raise StoreError(f"cannot read the revocation journal {self.path}") from exc
        self._cached = snapshot
        return snapshot

    # -- internals --------------------------------------------------------------

    def _require_fd(self) -> int:
        if self._fd is None:
            self.open()
        assert self._fd is not None
        return self._fd

    @contextlib.contextmanager
    def _locked(self, fd: int, *, shared: bool = False) -> Iterator[None]:
        with self._thread_lock:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _write_header(self, fd: int, generation: int, start: int) -> None:
        os.pwrite(fd, _HEADER.pack(_MAGIC, generation, start), 0)

    def _scan(self, fd: int) -> JournalSnapshot:
        raw = os.pread(fd, _HEADER.size, 0)
        if len(raw) < _HEADER.size:
            return JournalSnapshot(0, _HEADER.size, _HEADER.size, ())
        magic, generation, start = _HEADER.unpack(raw)
        if magic != _MAGIC:
            raise StoreError(f"{self.path} is not a dialer revocation journal")
        size = os.fstat(fd).st_size
        start = max(int(start), _HEADER.size)
        entries: list[JournalEntry] = []
        offset = start
        while offset + _RECORD.size <= size:
            length, crc = _RECORD.unpack(os.pread(fd, _RECORD.size, offset))
            if length == 0:
                break
            if length > _MAX_RECORD or offset + _RECORD.size + length > size:
                break  # a torn length field: never acknowledged
            sealed = os.pread(fd, length, offset + _RECORD.size)
            if zlib.crc32(sealed) != crc:
                break  # torn write (crash before fsync): never acknowledged
            entries.append(self._open_entry(sealed))
            offset += _RECORD.size + length
        return JournalSnapshot(int(generation), start, offset, tuple(entries))

    def _open_entry(self, sealed: bytes) -> JournalEntry:
        try:
            plain = self._sealer.open(sealed, _SEAL_CONTEXT)
        except StoreError as exc:
            # an intact record we cannot decrypt: wrong key file. Never skip or
            # overwrite it: that would lose an opt-out
            raise StoreError(
                f"cannot decrypt the revocation journal {self.path}: the key file does "
                "not match (restore the right dialer.key; the journal is kept as it is)"
            ) from exc
        try:
            data = json.loads(plain)
            return JournalEntry(**data)
        except (ValueError, TypeError) as exc:
            raise StoreError(f"unreadable entry in the revocation journal {self.path}") from exc


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:  # pragma: no cover - pwrite on a regular file never does this
            raise OSError(errno.EIO, "short write")
        view = view[written:]
        offset += written


def _fsync_dir(directory: Path) -> None:
    """Make the new file's directory entry durable too."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
