"""A crash mid-campaign (kill -9 of the engine during a live call): nothing is
lost and nobody is called twice. The interrupted call is closed as
``interrupted`` on the next run and its number is not dialled again (SIPp
counts the INVITEs); contacts never reached are dialled by the next run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.workspace import make_workspace

pytestmark = pytest.mark.integration


def test_kill_9_mid_call_no_double_call_and_nothing_lost(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox, max_concurrent=1)
    prefix = daytime_prefix()
    listener = sample_number(prefix, 4, 2)  # SIPp phone that answers and listens
    later = sample_number(prefix, 9, 6)  # dialplan phone: reached only after the first
    ws.school_campaign({"first": listener, "second": later})
    before = phones.invites("silent", listener)

    engine = subprocess.Popen(
        [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "run", "c"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while phones.invites("silent", listener) == before:
            assert time.monotonic() < deadline, "the engine never dialled"
            assert engine.poll() is None, "the engine exited early"
            time.sleep(0.2)
        time.sleep(3)  # the call is answered and the message is playing
    finally:
        os.killpg(engine.pid, signal.SIGKILL)
        engine.wait()

    report = json.loads(ws.ok("campaign", "run", "c", "--json"))
    by_contact = {c["contact"]: c for c in report["per_contact"]}
    assert by_contact["first"]["outcome"] == "interrupted"
    assert by_contact["second"]["outcome"] == "completed"
    time.sleep(1)
    assert phones.invites("silent", listener) == before + 1
    # and a further run changes nothing
    again = json.loads(ws.ok("campaign", "run", "c", "--json"))
    assert again["calls_placed"] == report["calls_placed"] == 2
    assert phones.invites("silent", listener) == before + 1


def test_asterisk_dying_mid_campaign_stops_dialing_with_a_clear_error(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws = make_workspace(tmp_path, sandbox, max_concurrent=1)
    prefix = daytime_prefix()
    numbers = [sample_number(prefix, i, 6) for i in range(3)]  # dialplan phones that listen
    ws.school_campaign({f"n{i}": n for i, n in enumerate(numbers)})
    engine = subprocess.Popen(
        [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "run", "c"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    db = ws.settings().store.path
    try:
        deadline = time.monotonic() + 30
        while not _answered(db):  # the first call is up, its message playing
            assert time.monotonic() < deadline, "no call was answered"
            assert engine.poll() is None, "the engine exited early"
            time.sleep(0.1)
        time.sleep(1)
        subprocess.run(
            [str(sandbox.repo / "scripts/asterisk-sandbox"), "stop"],
            check=True,
            capture_output=True,
        )
        stopped = time.monotonic()
        _out, err = engine.communicate(timeout=30)
        took = time.monotonic() - stopped
    finally:
        if engine.poll() is None:
            os.killpg(engine.pid, signal.SIGKILL)
        subprocess.run(
            [str(sandbox.repo / "scripts/asterisk-sandbox"), "start"],
            check=True,
            capture_output=True,
        )
    assert engine.returncode == 7, err[-3000:]
    assert "lost the AMI connection" in err or "Asterisk" in err.splitlines()[-1]
    assert took < 10
    first = json.loads(ws.ok("campaign", "report", "c", "--json"))
    cut = [c for c in first["per_contact"] if c["outcome"] == "interrupted-by-pbx"]
    # the call in progress when Asterisk died was cut short: recorded as such by the
    # running engine (not left for the next start to guess), and dialled again once
    assert cut, first["per_contact"]
    report = json.loads(ws.ok("campaign", "run", "c", "--json"))
    outcomes = {c["contact"]: c["outcome"] for c in report["per_contact"]}
    assert set(outcomes.values()) == {"completed"}, outcomes
    assert report["calls_placed"] == 3 + len(cut)


def _answered(db: Path) -> bool:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT COUNT(*) FROM attempts WHERE answered_at IS NOT NULL")
        return bool(row.fetchone()[0])
