"""FastAGI spoof and flood during a running campaign (issue 8 item 1).

A real campaign runs against the sandbox Asterisk (dialplan phones that
answer and listen, one that presses 9). While its calls are in progress, a
hostile local process:

- floods the engine's FastAGI port with 200 idle connections: past the
  session cap they are closed at once, the engine logs one warning for the
  burst, and every call in progress still ends normally;
- forges a FastAGI session for a call it learnt the id of (call ids appear
  in logs and reports): a header naming that call id, with the call's
  uniqueid but not the call's channel, then ``200 result=57`` ("9 pressed")
  to anything it is asked. The session is refused; no opt-out is recorded
  for that number and the real call completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.workspace import make_workspace

pytestmark = pytest.mark.integration


def read_only(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 2000")
    return conn


async def flood(port: int, count: int) -> list[float]:
    """Open ``count`` idle connections; how long each stayed open (seconds)."""
    loop = asyncio.get_running_loop()

    async def one() -> float:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        started = time.monotonic()
        try:
            await loop.sock_connect(sock, ("127.0.0.1", port))
            with contextlib.suppress(ConnectionError):
                await asyncio.wait_for(loop.sock_recv(sock, 1), 10)
        finally:
            sock.close()
        return time.monotonic() - started

    return await asyncio.gather(*(one() for _ in range(count)))


async def forge(port: int, call_id: str) -> list[str]:
    """A forged session for ``call_id``: every command it is sent is answered "9"."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = [
        "agi_network: yes",
        "agi_network_script: broadcast",
        "agi_request: agi://127.0.0.1/broadcast",
        "agi_channel: PJSIP/forged-00000001",
        f"agi_uniqueid: {call_id}",
        "agi_callerid: 2125550000",
        f"agi_arg_1: {call_id}",
    ]
    writer.write(("\n".join(header) + "\n\n").encode())
    await writer.drain()
    commands: list[str] = []
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), 15)
            if not line:
                break
            commands.append(line.decode().strip())
            writer.write(b"200 result=57 endpos=1000\n")  # "the callee pressed 9"
            await writer.drain()
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()
    return commands


def test_flood_and_forged_session_during_a_running_campaign(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws = make_workspace(tmp_path, sandbox, max_concurrent=5)
    cfg = ws.settings()
    prefix = daytime_prefix()
    listeners = {f"listen{i}": sample_number(prefix, i, 6) for i in range(4)}
    contacts = {**listeners, "press9": sample_number(prefix, 7, 5)}
    ws.school_campaign(contacts)
    log_file = tmp_path / "engine.log"
    with log_file.open("wb") as log:
        engine = subprocess.Popen(
            [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "run", "c",
             "--json"],
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        answered: list[str] = []
        while len(answered) < 2:
            assert time.monotonic() < deadline, log_file.read_text()
            assert engine.poll() is None, log_file.read_text()
            with closing(read_only(cfg.store.path)) as conn:
                answered = [
                    r[0]
                    for r in conn.execute(
                        "SELECT a.id FROM attempts a JOIN contacts c ON c.id = a.contact_id "
                        "WHERE a.answered_at IS NOT NULL AND a.ended_at IS NULL "
                        "AND c.external_id LIKE 'listen%'"
                    )
                ]
            time.sleep(0.1)
        target = answered[0]

        async def attack() -> tuple[list[float], list[str]]:
            open_for = await flood(cfg.agi.port, 200)
            commands = await forge(cfg.agi.port, target)
            return open_for, commands

        open_for, commands = asyncio.run(attack())
        out, _ = engine.communicate(timeout=120)
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
    log_text = log_file.read_text(encoding="utf-8", errors="replace")
    assert engine.returncode == 0, log_text

    # the flood: refused at once past the cap (the few admitted ones at the header
    # deadline), one warning for the whole burst, not one per connection
    assert sum(1 for t in open_for if t < 1.0) >= 150, sorted(open_for)[:20]
    assert max(open_for) < 6.0
    assert log_text.count("fastagi.session_cap_reached") == 1
    assert len(log_text) < 200_000

    # the forged session never played anything, and "9" recorded nothing
    assert not any(c.startswith("STREAM FILE") for c in commands), commands
    report = json.loads(out)
    outcomes = {c["contact"]: c["outcome"] for c in report["per_contact"]}
    assert outcomes == {**dict.fromkeys(listeners, "completed"), "press9": "opted-out"}, report
    with closing(read_only(cfg.store.path)) as conn:
        revoked = conn.execute("SELECT COUNT(*), MIN(source_ref) FROM revocations").fetchone()
    assert revoked[0] == 1 and revoked[1] != target
