"""Record by phone (issue 14 item 3) through the real sandbox Asterisk and SIPp phones.

The staff phone is a SIPp process that sends espeak-ng speech as RTP (a pcap
the test makes, tests/support/rtp_pcap.py) and presses 1 (RFC 4733) to keep
the take; Asterisk records it with AGI RECORD FILE (silence limit), plays it
back, and the kept file goes through the upload's conversion and validation.
The saved recording's length is compared with the same speech converted as an
upload. Bad input: a number that is not a staff phone, a call never answered,
a call hung up before keeping: one clear message, nothing recorded.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from support.audio_files import speech_wav
from support.phones import Phones
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.speaking_phone import answering, calling_in
from support.store import audit_kinds, raw
from support.workspace import Workspace, make_workspace

from dialer.audio.convert import convert_recording
from dialer.campaign.engine import Engine
from dialer.model.recording import Recording
from dialer.store.store import Store

pytestmark = pytest.mark.integration

SPEECH = "Good morning. Because of the snow, every school is closed today. Stay safe."


def expected_seconds(wav: Path, folder: Path) -> float:
    """The speech's length once converted exactly as an uploaded file would be."""
    return convert_recording(wav, folder, "expected", 300.0).duration_s


def recordings(ws: Workspace) -> list[dict[str, object]]:
    return json.loads(ws.ok("recordings", "list", "--json"))  # type: ignore[no-any-return]


def phone_audits(ws: Workspace) -> list[dict[str, object]]:
    from contextlib import closing

    with closing(raw(ws.settings().store.path)) as conn:
        rows = conn.execute("SELECT payload FROM audit WHERE kind = 'phone-recording'").fetchall()
    return [json.loads(r[0]) for r in rows]


def test_call_me_records_plays_back_and_keeps_a_validated_recording(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws = make_workspace(tmp_path, sandbox, ring_timeout=10)
    staff = sample_number(daytime_prefix(), 7, 2)  # ...72: the speaking SIPp phone
    ws.ok("staff-phone", "add", staff, "--label", "Ms. Diaz mobile")
    wav = speech_wav(tmp_path / "speech-source.wav", SPEECH)
    want = expected_seconds(wav, tmp_path)
    phone = answering(tmp_path, wav)
    try:
        result = ws.dialer("recordings", "record", "closure", "--call-me", staff, "--json")
    finally:
        phone.stop()

    assert result.exit_code == 0, result.output
    saved = json.loads(result.stdout)
    assert saved["name"] == "closure" and saved["version"] == 1 and saved["language"] == "en"
    assert saved["refused"] == []
    # the speech, as Asterisk heard it, trimmed like an upload: within half a second
    assert abs(saved["duration"] - want) < 0.5, (saved["duration"], want)
    [catalogued] = recordings(ws)
    assert catalogued["source"] == "recorded by phone" and catalogued["version"] == 1
    assert phone.invites(staff) == 1  # one INVITE, to the staff phone
    sounds = ws.settings().audio.sounds_dir
    assert (sounds / "recordings" / "closure-en-v1.wav").exists()
    assert not list((sounds / "incoming").iterdir())  # the raw take is gone
    [audit] = phone_audits(ws)
    assert audit["line"] == "call-me" and audit["outcome"] == "saved" and audit["version"] == 1
    assert staff.lstrip("+") not in json.dumps(audit)  # C18: hash only

    # the recording is usable: a campaign can be created with it (C8-C11 measured)
    ws.ok("callerid", "add", "+12125550100", "--label", "office")
    ws.ok("contacts", "import", str(_one_contact(tmp_path)), "--list", "l")
    ws.create_campaign("snow", "--message", "closure")


def _one_contact(folder: Path) -> Path:
    path = folder / "one.csv"
    path.write_text(f"id,phone\ns-1,{sample_number(daytime_prefix(), 1, 6)}\n")
    return path


def test_a_number_that_is_not_a_staff_phone_is_refused_and_never_dialled(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    stranger = sample_number(daytime_prefix(), 3, 1)  # SIPp phone 1
    before = phones.invites(1, stranger)

    result = ws.dialer("recordings", "record", "closure", "--call-me", stranger)

    assert result.exit_code == 2
    assert "is not a staff phone: only staff phones can be called" in result.output
    assert stranger.lstrip("+")[-4:] in result.output and stranger not in result.output  # masked
    assert phones.invites(1, stranger) == before
    assert recordings(ws) == []
    assert "phone-recording" not in audit_kinds(ws.settings().store.path)


def test_a_recording_call_never_answered_records_nothing(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox, ring_timeout=3)
    staff = sample_number(daytime_prefix(), 4, 4)  # SIPp phone 4: rings, never answers
    ws.ok("staff-phone", "add", staff, "--label", "front desk")

    result = ws.dialer("recordings", "record", "closure", "--call-me", staff)

    assert result.exit_code == 10
    assert re.search(r"was not answered; nothing was recorded", result.output), result.output
    assert phones.invites(4, staff) >= 1
    assert recordings(ws) == []
    [audit] = phone_audits(ws)
    assert audit["outcome"] == "not answered: not answered"


def test_hanging_up_before_keeping_saves_nothing(tmp_path: Path, sandbox: Sandbox) -> None:
    ws = make_workspace(tmp_path, sandbox, ring_timeout=10)
    staff = sample_number(daytime_prefix(), 7, 2)
    ws.ok("staff-phone", "add", staff, "--label", "Ms. Diaz mobile")
    wav = speech_wav(tmp_path / "speech-source.wav", SPEECH)
    phone = answering(tmp_path, wav, hang_up_after_speech=True)
    try:
        result = ws.dialer("recordings", "record", "closure", "--call-me", staff)
    finally:
        phone.stop()

    assert result.exit_code == 10
    assert "ended before a recording was kept; nothing was saved" in result.output
    assert recordings(ws) == []
    assert not list((ws.settings().audio.sounds_dir / "incoming").iterdir())
    [audit] = phone_audits(ws)
    assert audit["outcome"] == "hung-up"


def test_call_in_line_with_a_pin_saves_a_recording_under_the_account(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    secret = tmp_path / "pw"
    secret.write_text("a long enough password 1")
    secret.chmod(0o600)
    ws.ok("users", "add", "ruiz", "--role", "staff", "--password-file", str(secret))
    match = re.search(r"phone PIN of 'ruiz': (\d{6})", ws.ok("users", "phone-pin", "ruiz"))
    assert match
    pin = match.group(1)
    wav = speech_wav(tmp_path / "speech-source.wav", SPEECH)
    want = expected_seconds(wav, tmp_path)
    cfg = ws.settings()

    async def serve_one_call() -> tuple[int, list[Recording]]:
        store = await Store.open(cfg.store.path, cfg.store.key_file)
        try:
            # what 'dialer serve' runs: the engine's FastAGI server answers the line
            async with Engine(cfg, store) as engine:
                caller = calling_in(tmp_path, wav, pin, engine.agi.bound_port)
                try:
                    code = await asyncio.to_thread(caller.wait, 120)
                finally:
                    caller.stop()
            return code, await store.recordings.all()
        finally:
            await store.close()

    code, saved = asyncio.run(serve_one_call())

    assert code == 0, (tmp_path / "calling.errors.log").read_text(errors="replace")
    [rec] = saved
    assert rec.name == "call-in-1" and rec.added_by == "ruiz" and rec.version == 1
    assert abs(rec.duration - want) < 0.5, (rec.duration, want)
    [audit] = phone_audits(ws)
    assert audit == {
        "line": "call-in",
        "user": "ruiz",
        "outcome": "saved",
        "recording": "call-in-1",
        "version": 1,
        "takes": 1,
    }
