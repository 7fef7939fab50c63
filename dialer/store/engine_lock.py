"""One engine per store: an exclusive ``fcntl`` lock on ``<db>.engine.lock``.

Two engines on one store would dial the same contacts twice (each plans the
queue from the attempts it sees). ``dialer serve`` and ``dialer campaign run``
hold this lock for their whole life; the kernel drops it when the process
dies, however it dies (kill -9 included), so a dead process never holds it and
no stale-lock cleanup is needed. The file holds the holder's pid, only for the
message a second engine prints; the lock itself is the ``flock``.

CLI commands that only change state (start, pause, cancel ...) never take it:
they work whether or not an engine runs.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from dialer.errors import EngineBusyError, StoreError


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".engine.lock")


class EngineLock:
    """Held while an engine runs; ``with EngineLock(db, "serve"):`` or acquire/release."""

    def __init__(self, db_path: Path, role: str) -> None:
        self.db_path = db_path
        self.path = lock_path(db_path)
        self.role = role
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # 0600 like every file next to the database (C18); O_CLOEXEC: a child
            # process (ffmpeg, sipp in tests) must not inherit the lock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open the engine lock {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise EngineBusyError(
                f"another dialer engine ({holder}) is already running on the store "
                f"{self.db_path}; stop it first, or control "
                "its campaigns with 'dialer campaign start|pause|resume|cancel'"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {self.role}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            # the file stays: deleting it would let a third process lock a new
            # inode while a second still waits on the old one
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> EngineLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    except OSError:
        text = []
    if len(text) >= 2 and text[0].isdigit():
        return f"'dialer {text[1]}', pid {text[0]}"
    return "pid unknown"


def engine_holder(db_path: Path) -> int | None:
    """The pid of the engine running on this store, or None when none runs."""
    path = lock_path(db_path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
            return int(text[0]) if text and text[0].isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
