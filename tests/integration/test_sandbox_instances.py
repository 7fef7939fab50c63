"""A second sandbox Asterisk (``scripts/asterisk-sandbox --instance 2``), for real.

Several PBXs (issue #9 item 5) are tested with two Asterisk processes from the
same rootfs on other loopback ports. These tests prove the second one is a
whole, independent PBX: its own AMI port and secret, its own SIP port (the
same SIPp phones answer it), the shared sound folder, and that stopping it
leaves instance 1 untouched (its mounts are its own).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from support.phones import Phones
from support.sandbox import Sandbox, ensure_sandbox, is_running, stop_sandbox

from dialer.telephony.ami import AmiClient
from dialer.telephony.fastagi import AgiSession, FastAgiServer

pytestmark = pytest.mark.integration


@pytest.fixture
async def heard() -> AsyncIterator[tuple[FastAgiServer, dict[str, str]]]:
    """A FastAGI route that records the first key of each call."""
    keys: dict[str, str] = {}

    async def route(session: AgiSession) -> None:
        call_id = session.env.args[0] if session.env.args else "?"
        keys[call_id] = ""
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and not keys[call_id]:
            keys[call_id] = await session.wait_for_digit(300) or ""
        await session.hangup()

    async with FastAgiServer({"broadcast": route}, "127.0.0.1", 0) as server:
        yield server, keys


async def _call(ami: AmiClient, agi_port: int, number: str) -> tuple[str, bool]:
    call_id = f"inst-{uuid.uuid4().hex[:12]}"
    events = ami.calls.register(call_id)
    result = await ami.originate(
        call_id,
        channel=f"Local/{number}@sandbox-phones",
        context="dialer-answered",
        exten="s",
        priority=1,
        caller_id='"Instance test" <+12025550100>',
        variables={"CALL_ID": call_id, "DIALER_AGI": f"agi://127.0.0.1:{agi_port}"},
        timeout_s=5,
    )
    assert await events.wait_finished(15)
    return call_id, result.answered


async def test_second_instance_is_an_independent_pbx(
    sandbox: Sandbox,
    sandbox2: Sandbox,
    phones: Phones,
    heard: tuple[FastAgiServer, dict[str, str]],
) -> None:
    server, keys = heard
    assert (sandbox2.ami_port, sandbox2.sip_port) == (5138, 5160)
    assert sandbox2.ami_port != sandbox.ami_port and sandbox2.pid() != sandbox.pid()
    assert sandbox2.state_dir != sandbox.state_dir
    assert sandbox2.sounds_dir == sandbox.sounds_dir  # one shared sound folder
    assert "127.0.0.1:5160" in sandbox2.rx("pjsip show transports")

    async with AmiClient(
        sandbox2.ami_host, sandbox2.ami_port, sandbox2.ami_user, sandbox2.ami_secret()
    ) as ami:
        # a dialplan phone and a SIPp phone (the same SIPp process instance 1 uses)
        local_id, local_answered = await _call(ami, server.bound_port, "12025550145")
        sip_number = f"1202555{uuid.uuid4().int % 100:02d}01"  # ...01: never ...81 or ...91
        sip_id, sip_answered = await _call(ami, server.bound_port, sip_number)
    assert local_answered and keys[local_id] == "9"
    assert sip_answered and keys[sip_id] == "9"
    assert phones.invites(1, sip_number) == 1


def test_second_instance_reads_the_shared_sound_folder(sandbox: Sandbox, sandbox2: Sandbox) -> None:
    """A sound written by the engine is playable by instance 2 at the same path."""
    marker = sandbox.sounds_dir / f"probe-{uuid.uuid4().hex[:8]}.txt"
    marker.write_text("shared")
    try:
        shown = subprocess.run(
            ["chroot", str(sandbox2.rootfs), "/bin/cat", str(marker)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert shown.stdout == "shared"
    finally:
        marker.unlink()


async def test_stopping_instance_2_leaves_instance_1_running(sandbox: Sandbox) -> None:
    ensure_sandbox(2)
    try:
        async with AmiClient(
            sandbox.ami_host, sandbox.ami_port, sandbox.ami_user, sandbox.ami_secret()
        ) as ami:
            stop_sandbox(2)
            assert not is_running(2)
            await ami.ping()  # instance 1's AMI session survived
            await asyncio.sleep(0.5)
            assert ami.connected
        assert is_running(1)
        assert "127.0.0.1:5060" in sandbox.rx("pjsip show transports")
    finally:
        ensure_sandbox(2)  # leave it as the session fixture had it


def test_instance_option_is_checked() -> None:
    from support.sandbox import SCRIPT

    done = subprocess.run(
        [str(SCRIPT), "--instance", "x", "status"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "--instance takes 1-9, got 'x'" in done.stderr
