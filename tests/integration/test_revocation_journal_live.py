"""Press 9 while the store is failing: the opt-out is kept (issue 8 item 2; C5, C10).

A real call through the sandbox Asterisk to the SIPp phone that presses 9
during the message body (numbers ending in 91). Once the call is answered the
test makes the store fail for real, then waits for the 9:

- ``lock``: another connection holds SQLite's write lock (what a large import
  in another process does) until the revocation has gone to the journal;
- ``disk-full``: the database lives on a small tmpfs, which the test fills up.

The journal must hold the revocation while the store does not; after a
restart (any ``dialer`` command opens the store and replays the journal) the
store has it, from the keypad, under the call's id.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.workspace import make_workspace

from dialer.consent.crypto import Sealer, load_keys
from dialer.store.journal import RevocationJournal, journal_path

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / f"filler-{uuid.uuid4().hex[:6]}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 65536)
    finally:
        os.close(fd)
    return filler


def wait_until(predicate: object, what: str, timeout: float, engine: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            out = engine.stderr.read() if engine.poll() is not None and engine.stderr else ""
            pytest.fail(f"timed out waiting until {what}\n{out}")
        time.sleep(0.05)


def read_only(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 2000")
    return conn


@pytest.mark.parametrize("failure", ["lock", "disk-full"])
def test_c10_press_9_while_the_store_fails_keeps_the_opt_out(
    failure: str, tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    with contextlib.ExitStack() as stack:
        if failure == "disk-full":
            disk = stack.enter_context(tmpfs(tmp_path / "disk", "16m"))
            extra = f'[store]\npath = "{disk / "dialer.db"}"\n'
        else:
            extra = ""
        ws = make_workspace(tmp_path, sandbox, extra=extra)
        cfg = ws.settings()
        db = cfg.store.path
        number = sample_number(daytime_prefix(), 9, 1)  # ends in 91: presses 9 in the body
        ws.school_campaign({"late9": number})
        engine = subprocess.Popen(
            [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "run", "c"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        stack.callback(lambda: engine.poll() is None and engine.kill())

        def answered() -> bool:
            with closing(read_only(db)) as conn:
                return bool(
                    conn.execute("SELECT 1 FROM attempts WHERE answered_at IS NOT NULL").fetchone()
                )

        wait_until(answered, "the call is answered", 30, engine)
        filler: Path | None = None
        locker: sqlite3.Connection | None = None
        if failure == "lock":
            locker = sqlite3.connect(db, isolation_level=None)
            locker.execute("BEGIN IMMEDIATE")
        else:
            filler = fill(db.parent)

        journal = RevocationJournal(journal_path(db), Sealer(load_keys(cfg.store.key_file)))
        stack.callback(journal.close)
        wait_until(lambda: journal.pending(), "the revocation is in the journal", 30, engine)
        entry = journal.pending()[0]
        assert entry.channel == "keypad" and entry.recorded_by == "keypad"
        with closing(read_only(db)) as conn:
            assert conn.execute("SELECT COUNT(*) FROM revocations").fetchone()[0] == 0
        # the store recovers: the lock is released, or the disk gets space again
        # (the engine retries the call's own writes until then)
        if locker is not None:
            locker.execute("ROLLBACK")
            locker.close()
        if filler is not None:
            filler.unlink()

        _, stderr = engine.communicate(timeout=60)
        assert engine.returncode == 0, stderr
        assert "revocation.journaled" in stderr

        # restart: any command opens the store, which replays the journal first
        history = json.loads(ws.ok("consent", "show", number, "--json"))
        assert [r["channel"] for r in history["revocations"]] == ["keypad"]
        with closing(read_only(db)) as conn:
            call_id = conn.execute("SELECT id FROM attempts").fetchone()[0]
            rows = conn.execute("SELECT channel, source_ref FROM revocations").fetchall()
        assert rows == [("keypad", call_id)] == [("keypad", entry.source_ref)]
        assert journal.pending() == ()
        ws.ok("audit", "verify")
