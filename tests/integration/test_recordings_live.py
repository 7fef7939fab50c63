"""Recordings and messages through the real sandbox Asterisk (issue: recordings and messages).

- every accepted input format, converted, is played by Asterisk itself: the AGI
  ``STREAM FILE`` reply's end position matches the converted length;
- a SIPp phone pressing 9 during the message *body* opts out (C10);
- a Spanish-speaking contact hears the Spanish prompts;
- two contacts of a template campaign hear distinct personalised audio.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from support import audio_files as af
from support.phones import Phones
from support.sample import daytime_prefix, sample_number, write_consents, write_contacts
from support.sandbox import Sandbox
from support.workspace import Workspace, free_port, make_workspace

from dialer.audio.convert import convert_recording
from dialer.campaign.messages import MessagePlanner
from dialer.telephony.ami import AmiClient
from dialer.telephony.fastagi import AgiSession, FastAgiServer

pytestmark = pytest.mark.integration

NARROWBAND = 8000


async def _play_through_asterisk(sandbox: Sandbox, stems: list[str]) -> dict[str, int]:
    """Answer a sandbox call and STREAM FILE each stem; return Asterisk's end positions."""
    positions: dict[str, int] = {}
    done = asyncio.Event()

    async def route(session: AgiSession) -> None:
        try:
            for stem in stems:
                positions[stem] = (await session.stream_file(stem, "")).endpos
        finally:
            done.set()

    port = free_port()
    server = FastAgiServer({"broadcast": route}, "127.0.0.1", port)
    ami = AmiClient(sandbox.ami_host, sandbox.ami_port, sandbox.ami_user, sandbox.ami_secret())
    await server.start()
    await ami.connect()
    try:
        call_id = uuid.uuid4().hex
        result = await ami.originate(
            call_id,
            "Local/dial@dialer-outbound",
            "dialer-answered",
            "s",
            1,
            '"Test" <+12125550100>',
            {
                "__CALL_ID": call_id,
                # phone 6: answers and listens for 30 s
                "__DIALER_DIAL": "Local/12125550106@sandbox-phones",
                "__DIALER_RING": "5",
                "__DIALER_AGI": f"agi://127.0.0.1:{port}",
            },
            10,
        )
        assert result.answered
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await ami.close()
        await server.stop()
    return positions


def test_every_format_converted_plays_in_asterisk_for_its_length(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    source = af.speech_wav(tmp_path / "speech.wav", "Schools are closed today because of snow.")
    formats = af.make_formats(source, tmp_path / "formats")
    dest = sandbox.sounds_dir / f"test-formats-{uuid.uuid4().hex[:8]}"
    converted = {
        name: convert_recording(path, dest, name, 60.0)
        for name, path in formats.items()
        if name in ("mp3-44k1-stereo", "wav-48k-24bit", "ogg-opus", "flac", "m4a-aac")
    }
    stems = {name: str(c.stem) for name, c in converted.items()}
    positions = asyncio.run(_play_through_asterisk(sandbox, list(stems.values())))
    for name, c in converted.items():
        played = positions[stems[name]] / NARROWBAND
        assert played > 0, f"{name}: Asterisk played nothing"
        assert abs(played - c.duration_s) < 0.25 + 0.05 * c.duration_s, (
            f"{name}: Asterisk played {played:.2f} s of a {c.duration_s:.2f} s file"
        )


@pytest.fixture
def families(tmp_path: Path, sandbox: Sandbox) -> tuple[Workspace, dict[str, str]]:
    ws = make_workspace(tmp_path, sandbox, ring_timeout=5)
    prefix = daytime_prefix()
    numbers = {
        "late9": sample_number(prefix, 9, 1),  # ...91: SIPp phone pressing 9 in the body
        "maria": sample_number(prefix, 3, 6),  # Spanish speaker, listens
        "tom": sample_number(prefix, 4, 6),  # listens
    }
    ws.ok(
        "consent", "import", str(write_consents(tmp_path / "consent.csv", list(numbers.values())))
    )
    rows = [
        {
            "student_id": "late9",
            "phone": numbers["late9"],
            "language": "en",
            "student_name": "Lee",
            "school": "Oak Elementary",
            "date": "2026-11-24",
        },
        {
            "student_id": "maria",
            "phone": numbers["maria"],
            "language": "es",
            "student_name": "María",
            "school": "Escuela Roble",
            "date": "2026-11-24",
        },
        {
            "student_id": "tom",
            "phone": numbers["tom"],
            "language": "en",
            "student_name": "Tom",
            "school": "Pine Middle School",
            "date": "2026-11-24",
        },
    ]
    ws.ok("contacts", "import", str(write_contacts(tmp_path / "c.csv", rows)), "--list", "kids")
    ws.ok("callerid", "add", "+12125550100", "--label", "office")
    ws.ok("recordings", "add", "recordings/samples/en/example-body.wav", "--name", "notice")
    ws.ok(
        "recordings",
        "add",
        "recordings/samples/es/example-body.wav",
        "--name",
        "notice",
        "--language",
        "es",
    )
    return ws, numbers


def _per_contact(ws: Workspace, campaign: str) -> dict[str, dict[str, object]]:
    report = json.loads(ws.ok("campaign", "run", campaign, "--json"))
    return {c["contact"]: c for c in report["per_contact"]}


def test_c10_sipp_phone_pressing_9_during_the_body_opts_out_and_spanish_prompts(
    families: tuple[Workspace, dict[str, str]], phones: Phones
) -> None:
    ws, numbers = families
    ws.ok(
        "campaign",
        "create",
        "notice",
        "--purpose",
        "school",
        "--list",
        "kids",
        "--message",
        "notice",
        "--caller-id",
        "+12125550100",
    )
    before = phones.invites("press9late", numbers["late9"])
    outcome = _per_contact(ws, "notice")
    assert outcome["late9"]["outcome"] == "opted-out"
    assert "9 pressed during body" in str(outcome["late9"]["detail"])
    assert phones.invites("press9late", numbers["late9"]) == before + 1
    assert outcome["maria"]["outcome"] == "completed"
    assert outcome["maria"]["language"] == "es"
    assert outcome["maria"]["language_fallback"] is False

    # what Maria heard: the Spanish prompts and the Spanish recording
    store = ws.store()

    async def plan() -> list[str]:
        try:
            campaign = await store.campaigns.get("notice")
            contact = next(
                c
                for c in await store.contacts.contacts(campaign.list_id)
                if c.external_id == "maria"
            )
            return list(
                (await MessagePlanner(ws.settings(), store).plan(campaign, contact)).segments
            )
        finally:
            await store.close()

    segments = asyncio.run(plan())
    assert any("/prompts/es/optout-instruction" in s for s in segments)
    assert any("notice-es-v1" in s for s in segments)
    assert not any("/prompts/en/" in s for s in segments)


def test_template_campaign_gives_each_contact_their_own_audio(
    families: tuple[Workspace, dict[str, str]], phones: Phones, tmp_path: Path
) -> None:
    ws, _numbers = families
    ws.ok(
        "campaign",
        "create",
        "absence",
        "--purpose",
        "school",
        "--list",
        "kids",
        "--message",
        "template:attendance-absence",
        "--caller-id",
        "+12125550100",
    )
    previews = {}
    for who in ("tom", "maria"):
        out = tmp_path / f"{who}.wav"
        ws.ok("recordings", "preview", "absence", "--contact", who, "--out", str(out))
        previews[who] = out.read_bytes()
    assert previews["tom"] != previews["maria"]
    outcome = _per_contact(ws, "absence")
    assert outcome["tom"]["outcome"] == "completed"
    assert outcome["maria"]["outcome"] == "completed"
