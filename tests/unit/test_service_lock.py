"""Contract 3: one engine per store (``<db>.engine.lock``), never held by a dead process."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialer.errors import EngineBusyError
from dialer.store.engine_lock import EngineLock, engine_holder, lock_path

HOLD = """
import sys, time
from pathlib import Path
from dialer.store.engine_lock import EngineLock
EngineLock(Path(sys.argv[1]), "serve").acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_second_engine_in_the_same_process_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "dialer.db"
    with EngineLock(db, "serve"):
        assert engine_holder(db) == os.getpid()
        with pytest.raises(EngineBusyError, match=rf"'dialer serve', pid {os.getpid()}"):
            EngineLock(db, "campaign run").acquire()
    assert engine_holder(db) is None
    with EngineLock(db, "campaign run"):  # released: free again
        pass
    assert stat.S_IMODE(lock_path(db).stat().st_mode) == 0o600


def test_a_killed_engine_never_holds_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "dialer.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert engine_holder(db) == holder.pid
        with pytest.raises(EngineBusyError, match=f"pid {holder.pid}"):
            EngineLock(db, "serve").acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    deadline = time.monotonic() + 5
    while engine_holder(db) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with EngineLock(db, "serve"):
        assert engine_holder(db) == os.getpid()
