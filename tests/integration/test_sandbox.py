"""The sandbox Asterisk, its dialplan contract and the simulated phones, for real.

Everything here is real: Asterisk 22 from Debian testing in the chroot that
scripts/asterisk-sandbox builds, the district's asterisk_conf/ files plus the
sandbox overlay, SIPp user agent servers on loopback. The AMI and FastAGI peers
are deliberately tiny and written here (asyncio streams), so these tests prove
the Asterisk side of the contract independently of the engine's own clients:

* AMI user ``dialer``: login works, a wrong secret is refused, ``Command`` and
  ``Originate`` into an application are refused (least privilege, C18).
* Originate ``Local/dial@dialer-outbound`` -> exactly one ``UserEvent
  DialerDial`` per call with the Dial() status and Q.850 cause, per phone.
* Answered calls reach FastAGI at ``${DIALER_AGI}/broadcast`` with the call id;
  keypad digits from SIPp (RFC 4733) and from the local phones reach
  ``WAIT FOR DIGIT``.
* SIPp sees one INVITE per call, carrying the campaign's caller ID (C14).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.phones import Phones
from support.sandbox import Sandbox

pytestmark = pytest.mark.integration

CALLER_ID = "+12025550100"
_serial = itertools.count(int(time.time()) % 1000)

Message = dict[str, str]


def number_for(digit: int) -> str:
    """A fresh number (E.164 digits, no '+') that reaches phone ``digit``."""
    # the tens digit 0-5: ...63, ...72, ...81, ...91 are the sandbox's special phones
    serial = next(_serial)
    return f"12025556{serial % 10}{serial // 10 % 6}{digit}"


# --- a few lines of AMI ---------------------------------------------------------


class Ami:
    """Minimal AMI client: one reader task, responses by ActionID, events in a list."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.events: list[Message] = []
        self._responses: dict[str, asyncio.Future[Message]] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._read_loop())

    @classmethod
    async def connect(cls, host: str, port: int) -> Ami:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        banner = await asyncio.wait_for(reader.readline(), 5)
        assert banner.startswith(b"Asterisk Call Manager/"), banner
        return cls(reader, writer)

    async def _read_loop(self) -> None:
        msg: Message = {}
        while True:
            line = await self.reader.readline()
            if not line:
                break
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if text:
                key, _, value = text.partition(":")
                msg[key.strip()] = value.strip()
                continue
            if not msg:
                continue
            action_id = msg.get("ActionID", "")
            if "Response" in msg and action_id in self._responses:
                self._responses.pop(action_id).set_result(msg)
            elif "Event" in msg:
                async with self._changed:
                    self.events.append(msg)
                    self._changed.notify_all()
            msg = {}
        for fut in self._responses.values():
            if not fut.done():
                fut.set_exception(ConnectionError("AMI connection closed"))

    async def action(self, name: str, *headers: tuple[str, str], limit: float = 10) -> Message:
        action_id = str(next(self._ids))
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._responses[action_id] = fut
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{k}: {v}" for k, v in headers]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        return await asyncio.wait_for(fut, limit)

    async def login(self, user: str, secret: str) -> Message:
        return await self.action("Login", ("Username", user), ("Secret", secret))

    async def wait_event(self, match: Callable[[Message], bool], limit: float) -> Message:
        async def find() -> Message:
            async with self._changed:
                while True:
                    for event in self.events:
                        if match(event):
                            return event
                    await self._changed.wait()

        return await asyncio.wait_for(find(), limit)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


# --- a few lines of FastAGI -----------------------------------------------------


@dataclass
class AgiCall:
    env: dict[str, str]
    #: (command, reply line) in order
    replies: list[tuple[str, str]] = field(default_factory=list)

    def result(self, command_prefix: str) -> str:
        for command, reply in self.replies:
            if command.startswith(command_prefix):
                return reply
        raise AssertionError(f"{command_prefix} not sent; replies: {self.replies}")


class AgiListener:
    """FastAGI server on an ephemeral loopback port running a fixed command list."""

    def __init__(self, commands: list[str]) -> None:
        self.commands = commands
        self.calls: dict[str, AgiCall] = {}
        self._arrived = asyncio.Condition()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"agi://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        try:
            while True:
                line = (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                env[key.strip()] = value.strip()
            call = AgiCall(env)
            for command in self.commands:
                writer.write(command.encode() + b"\n")
                await writer.drain()
                while True:  # Asterisk may interject "HANGUP" when the caller leaves
                    reply = (await asyncio.wait_for(reader.readline(), 15)).decode().strip()
                    if reply != "HANGUP":
                        break
                call.replies.append((command, reply))
                if not reply:
                    break
            async with self._arrived:
                self.calls[env.get("agi_arg_1", "")] = call
                self._arrived.notify_all()
        finally:
            writer.close()

    async def wait_call(self, call_id: str, limit: float) -> AgiCall:
        async def find() -> AgiCall:
            async with self._arrived:
                await self._arrived.wait_for(lambda: call_id in self.calls)
                return self.calls[call_id]

        return await asyncio.wait_for(find(), limit)

    async def close(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()


# --- fixtures -------------------------------------------------------------------


@pytest.fixture
async def ami(sandbox: Sandbox) -> AsyncIterator[Ami]:
    client = await Ami.connect(sandbox.ami_host, sandbox.ami_port)
    reply = await client.login(sandbox.ami_user, sandbox.ami_secret())
    assert reply["Response"] == "Success", reply
    yield client
    await client.close()


@pytest.fixture
async def agi() -> AsyncIterator[AgiListener]:
    listener = AgiListener(["ANSWER", 'STREAM FILE beep "9"', "WAIT FOR DIGIT 4000", "HANGUP"])
    await listener.start()
    yield listener
    await listener.close()


async def originate(
    ami: Ami,
    call_id: str,
    dial: str,
    agi_url: str,
    ring: int = 10,
    channel: str = "Local/dial@dialer-outbound",
    context: str = "dialer-answered",
    extra: tuple[tuple[str, str], ...] = (),
) -> Message:
    """The engine's Originate, exactly as the dialplan contract states it."""
    return await ami.action(
        "Originate",
        ("Channel", channel),
        ("Context", context),
        ("Exten", "s"),
        ("Priority", "1"),
        ("Async", "true"),
        ("ChannelId", call_id),
        ("OtherChannelId", f"{call_id}-2"),
        ("CallerID", f'"Example School" <{CALLER_ID}>'),
        ("Variable", f"__CALL_ID={call_id}"),
        ("Variable", f"__DIALER_DIAL={dial}"),
        ("Variable", f"__DIALER_RING={ring}"),
        ("Variable", f"__DIALER_AGI={agi_url}"),
        *extra,
    )


def dialer_dial(call_id: str) -> Callable[[Message], bool]:
    return lambda e: e.get("UserEvent") == "DialerDial" and e.get("CallId") == call_id


# --- AMI access -------------------------------------------------------------------


async def test_ami_login_accepts_dialer_user_and_refuses_wrong_secret(sandbox: Sandbox) -> None:
    good = await Ami.connect(sandbox.ami_host, sandbox.ami_port)
    try:
        assert (await good.login("dialer", sandbox.ami_secret()))["Response"] == "Success"
    finally:
        await good.close()
    bad = await Ami.connect(sandbox.ami_host, sandbox.ami_port)
    try:
        reply = await bad.login("dialer", sandbox.ami_secret() + "x")
        assert reply["Response"] == "Error"
        assert "Authentication failed" in reply.get("Message", "")
    finally:
        await bad.close()


def test_c18_ami_secret_files_are_0600_and_not_in_the_repo(sandbox: Sandbox) -> None:
    conf = sandbox.state_dir / "etc" / "asterisk" / "dialer-ami-secret.conf"
    for path in (sandbox.ami_secret_file, conf):
        assert path.stat().st_mode & 0o777 == 0o600, path
    secret = sandbox.ami_secret()
    assert len(secret) >= 32
    assert conf.read_text().strip() == f"secret = {secret}"
    in_repo = subprocess.run(
        ["grep", "-rlF", secret, str(sandbox.repo / "asterisk_conf")], capture_output=True
    )
    assert in_repo.returncode == 1, in_repo.stdout


async def test_c18_least_privilege_user_cannot_run_cli_or_originate_applications(
    ami: Ami,
) -> None:
    reply = await ami.action("Command", ("Command", "core show version"))
    assert reply["Response"] == "Error"
    assert "Permission denied" in reply.get("Message", "")
    # Originate straight into an application needs write=system (System() would
    # run shell commands as Asterisk): refused.
    reply = await ami.action(
        "Originate",
        ("Channel", "Local/s@sandbox-phone-6"),
        ("Application", "System"),
        ("Data", "true"),
        ("Async", "true"),
    )
    assert reply["Response"] == "Error"


# --- the dialplan contract, per simulated phone -----------------------------------

# digit, expected DialerDial Status, allowed Causes, digit the AGI reads (None: not answered)
CASES = [
    (1, "ANSWER", {"16"}, "57"),
    (2, "ANSWER", {"16"}, "0"),
    (8, "ANSWER", {"16"}, "56"),
    (5, "ANSWER", {"16"}, "57"),
    (6, "ANSWER", {"16"}, "0"),
    (3, "BUSY", {"17"}, None),
    (9, "BUSY", {"17"}, None),
    (4, "NOANSWER", {"19"}, None),
    (7, "CHANUNAVAIL", {"1"}, None),
    (0, "CONGESTION", {"34"}, None),
]


@pytest.mark.parametrize(("digit", "status", "causes", "agi_digit"), CASES)
async def test_outbound_call_reports_dial_result_per_phone(
    ami: Ami,
    agi: AgiListener,
    phones: Phones,
    digit: int,
    status: str,
    causes: set[str],
    agi_digit: str | None,
) -> None:
    call_id = f"sbx-{digit}-{os.getpid()}-{time.monotonic_ns()}"
    number = number_for(digit)
    started = time.monotonic()
    reply = await originate(ami, call_id, f"Local/{number}@sandbox-phones", agi.url, ring=3)
    assert reply["Response"] == "Success", reply

    event = await ami.wait_event(dialer_dial(call_id), limit=30)
    assert event["Status"] == status, event
    assert event["Cause"] in causes, event
    # Raised by the outbound half, whose id the engine chose (OtherChannelId).
    assert event["Uniqueid"] == f"{call_id}-2"
    assert event["Linkedid"] == call_id
    # Exactly one report per call, also for answered calls (Dial() return or h).
    await asyncio.sleep(0.5)
    assert sum(1 for e in ami.events if dialer_dial(call_id)(e)) == 1

    if status == "NOANSWER":
        # __DIALER_RING reached Dial(): it gave up after 3 s, not the default 30.
        assert 2.5 <= time.monotonic() - started < 10

    if agi_digit is None:
        assert call_id not in agi.calls
    else:
        call = await agi.wait_call(call_id, limit=30)
        assert call.env["agi_network_script"] == "broadcast"
        assert call.env["agi_arg_1"] == call_id
        assert call.env["agi_uniqueid"] == call_id
        assert call.result("ANSWER").startswith("200 result=0")
        # WAIT FOR DIGIT returns the ASCII code: 57 is '9', 56 is '8', 0 none.
        assert call.result("WAIT FOR DIGIT") == f"200 result={agi_digit}"

    if digit in phones.phones:
        assert phones.invites(digit, number) == 1


async def test_c10_sipp_rfc4733_digit_9_is_seen_as_dtmf_on_the_engine_channel(
    ami: Ami, agi: AgiListener, phones: Phones
) -> None:
    call_id = f"sbx-dtmf-{os.getpid()}-{time.monotonic_ns()}"
    await originate(ami, call_id, f"Local/{number_for(1)}@sandbox-phones", agi.url)
    event = await ami.wait_event(
        lambda e: (
            e.get("Event") == "DTMFEnd"
            and e.get("Uniqueid") == call_id
            and e.get("Direction") == "Received"
        ),
        limit=20,
    )
    assert event["Digit"] == "9"
    await ami.wait_event(dialer_dial(call_id), limit=20)


async def test_c14_caller_id_reaches_the_called_phone(
    ami: Ami, agi: AgiListener, phones: Phones
) -> None:
    call_id = f"sbx-cid-{os.getpid()}-{time.monotonic_ns()}"
    number = number_for(2)
    await originate(ami, call_id, f"Local/{number}@sandbox-phones", agi.url)
    await ami.wait_event(dialer_dial(call_id), limit=30)
    trace = phones.phone(2).trace.read_text()
    invite = next(
        block for block in trace.split("INVITE sip:")[1:] if block.startswith(f"{number}@")
    )
    from_header = next(ln for ln in invite.splitlines() if ln.startswith("From:"))
    assert f"<sip:{CALLER_ID}@" in from_header


async def test_sandbox_caller_context_presses_keys_into_an_inbound_call(
    ami: Ami, agi: AgiListener
) -> None:
    """The wiring the hotline test uses: Local/s@<inbound context> + [sandbox-caller].

    [dialer-answered] stands in for [dialer-hotline] (whose AGI program is the
    engine's); the caller half presses SANDBOX_KEYS after SANDBOX_KEYS_DELAY.
    """
    call_id = f"sbx-in-{os.getpid()}-{time.monotonic_ns()}"
    reply = await originate(
        ami,
        call_id,
        "unused",
        agi.url,
        channel="Local/s@dialer-answered",
        context="sandbox-caller",
        extra=(("Variable", "SANDBOX_KEYS=9"), ("Variable", "SANDBOX_KEYS_DELAY=1.5")),
    )
    assert reply["Response"] == "Success"
    call = await agi.wait_call(call_id, limit=20)
    assert call.result("WAIT FOR DIGIT") == "200 result=57"
    # The inbound side sees the originate's caller ID: the hotline's caller.
    assert call.env["agi_callerid"] == CALLER_ID


def test_hotline_wrapper_runs_the_repo_code_with_the_venv(sandbox: Sandbox) -> None:
    """dialer-optout-hotline's interpreter and paths work inside the chroot."""
    wrapper = sandbox.state_dir / "agi-bin" / "dialer-optout-hotline"
    text = wrapper.read_text()
    assert f"{sandbox.repo}/agi_scripts/optout_hotline.py" in text
    assert f"DIALER_CONFIG='{sandbox.state_dir}/dialer.toml'" in text
    probe = subprocess.run(
        [
            "chroot",
            str(sandbox.rootfs),
            "/usr/bin/env",
            f"PYTHONPATH={sandbox.repo}",
            "PYTHONDONTWRITEBYTECODE=1",
            "/opt/dialer-venv/bin/python",
            "-c",
            "import asterisk.agi, aiosqlite, phonenumbers, cryptography, structlog, dialer; "
            "print(dialer.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(sandbox.repo)


def test_sounds_dir_is_shared_at_the_same_path(sandbox: Sandbox) -> None:
    marker = sandbox.sounds_dir / f"probe-{os.getpid()}.txt"
    marker.write_text("shared")
    try:
        inside = subprocess.run(
            ["chroot", str(sandbox.rootfs), "/bin/cat", str(marker)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert inside.stdout == "shared"
    finally:
        marker.unlink()
