"""A loopback fake Asterisk: speaks AMI as a server and opens FastAGI sessions.

MOCK, and says so: the real sandbox Asterisk needs root (chroot), so these
root-free tests put this peer where Asterisk would be. It speaks the same
bytes on the same sockets as Asterisk 22 does for the dialer's dialplan
(asterisk_conf/extensions.conf): the AMI banner, Login, Ping, an ``Async``
Originate answered by ``Response: Success`` then an ``OriginateResponse``
carrying the ActionID, ``Newchannel`` / ``DTMFEnd`` / ``Hangup`` events with the
ChannelId as ``Uniqueid``, the ``DialerDial`` UserEvent, and for an answered call a FastAGI
connection (``agi_*`` environment, ``200 result=...`` replies, the
unsolicited ``HANGUP`` line). The real-Asterisk tests (tests/integration)
stay; this one lets the runner and the route be driven through orders of
events a real PBX only produces by chance (a 9 only AMI saw, then a hangup).

Phones are chosen by the dialled number (:class:`Phone`); a key is reported
to AMI always, and to the AGI command in progress only when that command
listens for it and ``agi_hears`` is true (a key pressed between two AGI
commands reaches AMI only).

It runs its own event loop in a thread, like a separate process would, so a
test can drive the real CLI (which runs ``asyncio.run``) against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

AMI_SECRET = "fake-secret"
EOL = "\r\n"


@dataclass(frozen=True)
class Key:
    at: float  # seconds after the answer
    digit: str
    #: False: pressed while no AGI command listened (only AMI sees it)
    agi_hears: bool = True


@dataclass(frozen=True)
class Phone:
    answer: bool = True
    ring: float = 0.05
    #: when not answering: (DIALSTATUS, Q.850 cause)
    failure: tuple[str, int] = ("NOANSWER", 19)
    keys: tuple[Key, ...] = ()
    #: the callee hangs up this long after the answer (None: listens to the end)
    hang_up_at: float | None = None
    machine: bool = False
    #: how long each sound file plays on this phone (None: the fake's default)
    play_seconds: float | None = None


@dataclass
class CallRecord:
    call_id: str
    number: str
    answered: bool = False
    #: every sound file played to its end, in order
    played: list[str] = field(default_factory=list)
    agi_commands: list[str] = field(default_factory=list)
    hung_up_by: str = ""
    #: the Originate's Channel header (the dial string, or the dialplan hop)
    originated: str = ""


class _AgiLeg:
    """The FastAGI connection of one answered call, played as res_agi does."""

    def __init__(self, call: _Call, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.call = call
        self.reader = reader
        self.writer = writer
        self.listening: tuple[str, asyncio.Future[str]] | None = None

    def send(self, text: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.writer.write(text.encode())

    async def serve(self) -> None:
        while not self.call.over:
            try:
                line = await self.reader.readline()
            except (ConnectionError, OSError):
                return
            if not line:
                self.call.end("agi-closed")
                return
            command = line.decode().strip()
            self.call.record.agi_commands.append(command)
            verb = command.split(" ", 2)
            if command.startswith("STREAM FILE"):
                parts = command.split(" ")
                name = parts[2]
                escape = parts[3].strip('"') if len(parts) > 3 else ""
                seconds = self.call.phone.play_seconds or self.call.fake.play_seconds
                await self._play(name, escape, seconds)
            elif command.startswith("WAIT FOR DIGIT"):
                ms = int(command.split(" ")[3])
                await self._play("", "0123456789*#", ms / 1000 if ms >= 0 else 3600)
            elif verb[0] == "HANGUP":
                self.send("200 result=1\n")
                self.call.end("engine")
                return
            else:
                self.send("200 result=0\n")

    async def _play(self, name: str, escape: str, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        key: asyncio.Future[str] = loop.create_future()
        self.listening = (escape, key)
        try:
            done = await asyncio.wait_for(asyncio.shield(key), seconds)
        except TimeoutError:
            done = ""
        finally:
            self.listening = None
        if done == "hangup":
            self.send("200 result=-1 endpos=0\n")
        elif done:
            self.send(f"200 result={ord(done)} endpos=800\n")
        else:
            if name:
                self.call.record.played.append(name)
            self.send("200 result=0 endpos=8000\n")

    def key(self, digit: str) -> bool:
        if self.listening and digit in self.listening[0] and not self.listening[1].done():
            self.listening[1].set_result(digit)
            return True
        return False

    def hang_up(self) -> None:
        self.send("HANGUP\n")
        if self.listening and not self.listening[1].done():
            self.listening[1].set_result("hangup")


class _Call:
    def __init__(self, fake: FakeAsterisk, action: dict[str, list[str]], phone: Phone) -> None:
        self.fake = fake
        self.action_id = action["ActionID"][0]
        self.call_id = action["ChannelId"][0]
        variables = dict(v.split("=", 1) for v in action.get("Variable", []))
        #: the dialplan hop (dial_via_dialplan) names the callee in __DIALER_DIAL and
        #: reports DialerDial; a direct originate puts the dial string in Channel
        self.hop = "__DIALER_DIAL" in variables
        self.agi_url = variables.get("__DIALER_AGI") or variables.get("DIALER_AGI", "")
        dial = variables["__DIALER_DIAL"] if self.hop else action.get("Channel", [""])[0]
        self.dial = dial
        self.number = dial.split("/", 1)[-1].split("@", 1)[0]
        self.phone = phone
        self.record = CallRecord(
            self.call_id, self.number, originated=action.get("Channel", [""])[0]
        )
        self.over = False
        self.agi: _AgiLeg | None = None
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def channel(self) -> str:
        """The name Asterisk gives the call's channel (and AMI reports)."""
        if not self.hop:
            return f"{self.dial.split('@', 1)[0]}-{self.call_id[:8]}"
        return f"Local/dial@dialer-outbound-{self.call_id[:8]};1"

    async def run(self) -> None:
        # Asterisk names the channel to AMI as soon as it exists (before it rings)
        self.fake.event("Newchannel", Channel=self.channel, Uniqueid=self.call_id)
        await asyncio.sleep(self.phone.ring)
        if self.over:
            return
        if not self.phone.answer:
            status, cause = self.phone.failure
            if self.hop:
                self.fake.event(
                    "UserEvent",
                    UserEvent="DialerDial",
                    CallId=self.call_id,
                    Status=status,
                    Cause=str(cause),
                )
            self._hangup_events(cause)
            self.over = True
            # Originate of a Local channel: Reason 0 for every failure; originated
            # directly, a ring timeout is Reason 3 (DESIGN.md, measured)
            reason = "3" if not self.hop and status == "NOANSWER" else "0"
            self.fake.event(
                "OriginateResponse",
                ActionID=self.action_id,
                Response="Failure",
                Reason=reason,
                Uniqueid=self.call_id,
            )
            return
        self.record.answered = True
        self.fake.event(
            "OriginateResponse",
            ActionID=self.action_id,
            Response="Success",
            Reason="4",
            Uniqueid=self.call_id,
            Channel=self.channel,
        )
        answered_at = time.monotonic()
        for key in self.phone.keys:
            self.tasks.append(asyncio.create_task(self._press(answered_at, key)))
        if self.phone.hang_up_at is not None:
            self.tasks.append(asyncio.create_task(self._callee_hangs_up(answered_at)))
        await self._agi_session()

    async def _agi_session(self) -> None:
        host, port = self.agi_url.removeprefix("agi://").rsplit(":", 1)
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            self.end("no-agi")
            return
        self.agi = _AgiLeg(self, reader, writer)
        amd = "MACHINE" if self.phone.machine else "HUMAN"
        env = [
            "agi_network: yes",
            "agi_network_script: broadcast",
            f"agi_request: {self.agi_url}/broadcast",
            f"agi_channel: {self.channel}",
            "agi_language: en",
            f"agi_uniqueid: {self.call_id}",
            f"agi_arg_1: {self.call_id}",
            f"agi_arg_2: {amd}",
        ]
        writer.write(("\n".join(env) + "\n\n").encode())
        try:
            await self.agi.serve()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _press(self, answered_at: float, key: Key) -> None:
        await asyncio.sleep(max(0.0, answered_at + key.at - time.monotonic()))
        if self.over:
            return
        self.fake.event(
            "DTMFEnd",
            Uniqueid=self.call_id,
            Linkedid=self.call_id,
            Direction="Received",
            Digit=key.digit,
            DurationMs="120",
        )
        if key.agi_hears and self.agi is not None:
            self.agi.key(key.digit)

    async def _callee_hangs_up(self, answered_at: float) -> None:
        assert self.phone.hang_up_at is not None
        await asyncio.sleep(max(0.0, answered_at + self.phone.hang_up_at - time.monotonic()))
        self.end("callee")

    def end(self, by: str, cause: int = 16) -> None:
        if self.over:
            return
        self.over = True
        self.record.hung_up_by = by
        if self.agi is not None:
            self.agi.hang_up()
            with contextlib.suppress(Exception):
                self.agi.writer.close()
        for task in self.tasks:
            task.cancel()
        # As Asterisk does: the AGI session hears of the hang-up first (HANGUP line);
        # the channel is destroyed, and AMI told, once the AGI application returned.
        asyncio.get_running_loop().call_later(0.05, self._after_hangup, cause)

    def _after_hangup(self, cause: int) -> None:
        self._hangup_events(cause)
        if self.record.answered and self.hop:
            self.fake.event(
                "UserEvent",
                UserEvent="DialerDial",
                CallId=self.call_id,
                Status="ANSWER",
                Cause=str(cause),
            )

    def _hangup_events(self, cause: int) -> None:
        # the hop: both halves of the Local channel; direct: the callee's one channel
        legs = ((f"{self.call_id}-2", ";2"), (self.call_id, ";1")) if self.hop else ()
        for uniqueid, half in legs or ((self.call_id, ""),):
            self.fake.event(
                "Hangup",
                Uniqueid=uniqueid,
                Linkedid=self.call_id,
                Channel=self.channel[:-2] + half if half else self.channel,
                Cause=str(cause),
                **{"Cause-txt": "Normal Clearing"},
            )


class FakeAsterisk:
    """AMI server + FastAGI client on loopback, in its own thread and loop."""

    def __init__(self, tmp: Path, phone_for: Callable[[str], Phone], play_seconds: float = 0.2):
        self.phone_for = phone_for
        self.play_seconds = play_seconds
        self.ami_secret_file = tmp / "fake-ami.secret"
        self.ami_secret_file.write_text(AMI_SECRET)
        self.ami_secret_file.chmod(0o600)
        self.sounds_dir = tmp / "sounds"
        self.dial_string = "Local/{digits}@sandbox-phones"
        self.ami_port = 0
        self.calls: list[CallRecord] = []
        self._live: dict[str, _Call] = {}
        self._writers: list[asyncio.StreamWriter] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    # -- lifecycle -------------------------------------------------------------

    def __enter__(self) -> FakeAsterisk:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._client, "127.0.0.1", self.ami_port, reuse_address=True
        )
        self.ami_port = self._server.sockets[0].getsockname()[1]

    async def _stop(self, shutdown_event: bool = False) -> None:
        for call in list(self._live.values()):
            call.end("shutdown")
        if shutdown_event:
            # what Asterisk says on "core stop now" before it closes AMI connections
            self.event("Shutdown", Shutdown="Uncleanly", Restart="False")
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def stop_pbx(self) -> None:
        """Asterisk goes away: calls end, AMI says Shutdown and closes, nobody listens."""
        asyncio.run_coroutine_threadsafe(self._stop(shutdown_event=True), self._loop).result(5)

    def start_pbx(self) -> None:
        """Asterisk is back, on the same AMI port."""
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)

    # -- what tests look at --------------------------------------------------------

    def originated(self, number: str | None = None) -> int:
        """Calls originated (the fake's INVITE count), optionally to one number."""
        want = number.lstrip("+") if number else None
        return sum(1 for c in self.calls if want is None or c.number == want)

    def by_number(self) -> Counter[str]:
        return Counter(c.number for c in self.calls)

    def wait_idle(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while any(not c.over for c in list(self._live.values())):
            assert time.monotonic() < deadline, "fake Asterisk calls never ended"
            time.sleep(0.05)

    # -- AMI ---------------------------------------------------------------------------

    def event(self, name: str, **headers: str) -> None:
        lines = [f"Event: {name}", "Privilege: call,all"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        data = (EOL.join(lines) + EOL + EOL).encode()
        for writer in self._writers:
            with contextlib.suppress(ConnectionError, RuntimeError):
                writer.write(data)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"Asterisk Call Manager/9.0.0{EOL}".encode())
        authed = False
        try:
            while True:
                block = await reader.readuntil((EOL + EOL).encode())
                action: dict[str, list[str]] = {}
                for line in block.decode().split(EOL):
                    if ": " in line:
                        key, value = line.split(": ", 1)
                        action.setdefault(key, []).append(value)
                name = action.get("Action", [""])[0].lower()
                aid = action.get("ActionID", [""])[0]
                if name == "login":
                    authed = action.get("Secret", [""])[0] == AMI_SECRET
                    answer = "Success" if authed else "Error"
                    message = "Authentication accepted" if authed else "Authentication failed"
                    self._reply(writer, Response=answer, ActionID=aid, Message=message)
                    if authed:
                        self._writers.append(writer)
                        self.event("FullyBooted", Status="Fully Booted")
                elif not authed:
                    self._reply(writer, Response="Error", ActionID=aid, Message="Not logged in")
                elif name == "ping":
                    self._reply(writer, Response="Success", ActionID=aid, Ping="Pong")
                elif name == "originate":
                    self._reply(
                        writer,
                        Response="Success",
                        ActionID=aid,
                        Message="Originate successfully queued",
                    )
                    self._originate(action)
                elif name == "hangup":
                    call = self._live.get(action.get("Channel", [""])[0])
                    if call is None or call.over:
                        self._reply(
                            writer, Response="Error", ActionID=aid, Message="No such channel"
                        )
                    else:
                        call.end("ami")
                        self._reply(
                            writer, Response="Success", ActionID=aid, Message="Channel Hungup"
                        )
                elif name == "logoff":
                    self._reply(writer, Response="Goodbye", ActionID=aid)
                    break
                else:
                    self._reply(writer, Response="Error", ActionID=aid, Message="Invalid action")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()

    def _reply(self, writer: asyncio.StreamWriter, **headers: str) -> None:
        data = EOL.join(f"{k}: {v}" for k, v in headers.items()) + EOL + EOL
        writer.write(data.encode())

    def _originate(self, action: dict[str, list[str]]) -> None:
        probe = _Call(self, action, Phone())
        call = _Call(self, action, self.phone_for(probe.number))
        self.calls.append(call.record)
        self._live[call.call_id] = call
        task = asyncio.get_running_loop().create_task(call.run())
        task.add_done_callback(lambda _t: self._live.pop(call.call_id, None) if call.over else None)
