"""Answering machines (AMD, asterisk_conf/amd.conf): with detection on, a machine
hears the voicemail version (the hotline number instead of "press 9", C11) and
a person the live version. Real Asterisk AMD() on a sandbox answering machine
(a long greeting) and a sandbox phone that answers silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.workspace import make_workspace

pytestmark = pytest.mark.integration


def test_c11_answering_machine_gets_the_voicemail_version(tmp_path: Path, sandbox: Sandbox) -> None:
    ws = make_workspace(tmp_path, sandbox, answering_machine_detection=True)
    prefix = daytime_prefix()
    machine = sample_number(prefix, 8, 6)  # ...86: the sandbox answering machine
    person = sample_number(prefix, 7, 6)  # answers and listens
    ws.school_campaign({"machine": machine, "person": person})
    report = json.loads(ws.ok("campaign", "run", "c", "--json"))
    by_contact = {c["contact"]: c for c in report["per_contact"]}
    assert by_contact["machine"]["outcome"] == "completed"
    assert "voicemail version left" in by_contact["machine"]["detail"]
    assert by_contact["person"]["outcome"] == "completed"
    assert "voicemail" not in by_contact["person"]["detail"]

    voicemail = tmp_path / "voicemail.wav"
    ws.ok(
        "recordings", "preview", "c", "--contact", "machine", "--voicemail", "--out", str(voicemail)
    )
    live = tmp_path / "live.wav"
    ws.ok("recordings", "preview", "c", "--contact", "machine", "--out", str(live))
    assert voicemail.read_bytes() != live.read_bytes()
