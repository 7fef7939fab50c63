"""The call state machine against the real sandbox Asterisk and SIPp phones (issue 7).

- A SIPp phone presses 9 and hangs up 0.3 s later: the opt-out is committed
  under the call's id, the call is ``opted-out`` and the next campaign never
  sends that number an INVITE (C10, C6).
- A caller ID removed from the allowlist while a campaign runs stops the next
  call (C14: the allowlist is read before every attempt).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.workspace import CALLER_ID, make_workspace

pytestmark = pytest.mark.integration


def test_c10_sipp_phone_presses_9_and_hangs_up_300ms_later_is_opted_out(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    number = sample_number(daytime_prefix(), 8, 1)  # ...81: press 9, BYE 0.3 s later
    ws.school_campaign({"parent": number})
    before = phones.invites("press9hangup", number)
    report = json.loads(ws.ok("campaign", "run", "c", "--json"))
    parent = report["per_contact"][0]
    assert parent["outcome"] == "opted-out", parent
    assert phones.invites("press9hangup", number) == before + 1
    with sqlite3.connect(ws.settings().store.path) as db:
        revocations = db.execute("SELECT channel, source_ref FROM revocations").fetchall()
    assert revocations == [("keypad", parent["call_id"])]
    # C6: the next campaign never rings the number
    ws.create_campaign("next")
    again = json.loads(ws.ok("campaign", "run", "next", "--json"))
    assert again["per_contact"][0]["gate"] == "revoked"
    time.sleep(1)
    assert phones.invites("press9hangup", number) == before + 1


def test_c14_caller_id_removed_mid_run_stops_the_next_call(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws = make_workspace(tmp_path, sandbox, max_concurrent=1)
    prefix = daytime_prefix()
    # dialplan phones 5: answer, press 9 after 1.5 s (a short call each)
    ws.school_campaign({f"n{i}": sample_number(prefix, i, 5) for i in range(3)})
    engine = subprocess.Popen(
        [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "run", "c"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = ws.settings().store.path
    try:
        deadline = time.monotonic() + 30
        while not _placed(db):
            assert time.monotonic() < deadline, "the engine never dialled"
            assert engine.poll() is None, engine.stderr.read() if engine.stderr else ""
            time.sleep(0.05)
        ws.ok("callerid", "remove", CALLER_ID)
        _out, err = engine.communicate(timeout=45)
        assert engine.returncode == 0, err
    finally:
        if engine.poll() is None:
            engine.kill()
    report = json.loads(ws.ok("campaign", "report", "c", "--json"))
    gates = sorted(c["gate"] for c in report["per_contact"])
    assert gates == ["allowed", "caller-id-not-allowed", "caller-id-not-allowed"]
    assert report["calls_placed"] == 1


def _placed(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT COUNT(*) FROM attempts WHERE allowed = 1").fetchone()
    return int(row[0])
