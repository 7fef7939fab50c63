"""A crash mid-campaign (kill -9 of the engine during a live call): nothing is
lost and nobody is called twice. The interrupted call is closed as
``interrupted`` on the next run and its number is not dialled again (SIPp
counts the INVITEs); contacts never reached are dialled by the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number, write_consents, write_contacts
from support.sandbox import Sandbox
from support.workspace import make_workspace

pytestmark = pytest.mark.integration


def test_kill_9_mid_call_no_double_call_and_nothing_lost(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox, max_concurrent=1)
    prefix = daytime_prefix()
    listener = sample_number(prefix, 7, 2)  # SIPp phone that answers and listens
    later = sample_number(prefix, 8, 6)  # dialplan phone: reached only after the first
    ws.ok("consent", "import", str(write_consents(tmp_path / "consent.csv", [listener, later])))
    rows = [{"id": "first", "phone": listener}, {"id": "second", "phone": later}]
    ws.ok("contacts", "import", str(write_contacts(tmp_path / "c.csv", rows)), "--list", "l")
    ws.ok("recordings", "add", "recordings/samples/en/example-body.wav", "--name", "m")
    ws.ok("callerid", "add", "+12125550100", "--label", "office")
    ws.ok(
        "campaign",
        "create",
        "c",
        "--purpose",
        "school",
        "--list",
        "l",
        "--message",
        "m",
        "--caller-id",
        "+12125550100",
    )
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
