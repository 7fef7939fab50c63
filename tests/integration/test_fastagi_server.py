"""The FastAGI server, for real on loopback, against a raw-socket Asterisk peer.

No mock: ``AsteriskPeer`` below opens a TCP connection and writes/reads the
exact bytes res_agi.c does (environment block, one reply line per command,
the unsolicited ``HANGUP`` line, 511/520 errors). That byte stream *is* the
FastAGI wire protocol, so these tests exercise the same code path a real
Asterisk does, including the misbehaviour a real Asterisk cannot be made to
produce on demand (garbage, stalls, HANGUP racing a reply). The end-to-end
test against the sandbox Asterisk lives in test_ami_client.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs
from support.agi_peer import CALLER, AsteriskPeer

from dialer.errors import AgiServerError
from dialer.telephony.agi_protocol import AgiProtocolError
from dialer.telephony.fastagi import AgiSession, CallHungUp, FastAgiServer, Handler


@contextlib.asynccontextmanager
async def running(routes: Mapping[str, Handler], **kw: Any) -> AsyncIterator[FastAgiServer]:
    server = FastAgiServer(routes, "127.0.0.1", 0, **kw)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class Recorder:
    """A handler that records what happened, for assertions."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.done = asyncio.Event()
        self.finally_ran = asyncio.Event()


# ------------------------------------------------------------ happy path


async def test_stream_file_catches_escape_digit() -> None:
    rec = Recorder()

    async def broadcast(session: AgiSession) -> None:
        rec.events.append(session.env.call_id)
        await session.answer()
        result = await session.stream_file("beep", "9")
        rec.events.append(result)
        rec.done.set()

    async with running({"broadcast": broadcast}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env(args=("call-7",))
        assert await peer.expect() == ["ANSWER"]
        await peer.reply("200 result=0")
        assert await peer.expect() == ["STREAM", "FILE", "beep", "9"]
        await peer.reply("200 result=57 endpos=8000")
        await asyncio.wait_for(rec.done.wait(), 5)
        await peer.expect_closed()  # handler returned: the server hangs up the socket
        await peer.close()
    assert rec.events[0] == "call-7"
    assert rec.events[1].digit == "9" and rec.events[1].endpos == 8000


async def test_every_session_command_speaks_the_documented_syntax() -> None:
    """Each AgiSession method sends what res_agi.c expects and reads its reply."""
    out: dict[str, Any] = {}

    async def route(s: AgiSession) -> None:
        out["opt"] = await s.get_option("menu", "98", 3000)
        out["wait"] = await s.wait_for_digit(2000)
        out["data"] = await s.get_data("enter", 4000, 4)
        out["sd"] = await s.say_digits("0123", "9")
        out["sn"] = await s.say_number(42)
        await s.set_variable("X", 'a "b"')
        out["var"] = await s.get_variable("X")
        out["unset"] = await s.get_variable("NOPE")
        out["exec"] = await s.exec_("Wait", "1")
        await s.verbose("hello", 2)
        await s.hangup()
        out["hung_up"] = s.hung_up

    script = [
        (["GET", "OPTION", "menu", "98", "3000"], "200 result=0 endpos=1600"),
        (["WAIT", "FOR", "DIGIT", "2000"], "200 result=0"),
        (["GET", "DATA", "enter", "4000", "4"], "200 result=0012 (timeout)"),
        (["SAY", "DIGITS", "0123", "9"], "200 result=57"),
        (["SAY", "NUMBER", "42", ""], "200 result=0"),
        (["SET", "VARIABLE", "X", 'a "b"'], "200 result=1"),
        (["GET", "VARIABLE", "X"], '200 result=1 (a "b")'),
        (["GET", "VARIABLE", "NOPE"], "200 result=0"),
        (["EXEC", "Wait", "1"], "200 result=0"),
        (["VERBOSE", "hello", "2"], "200 result=1"),
        (["HANGUP"], "200 result=1"),
    ]
    async with running({"r": route}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env("r")
        for command, answer in script:
            assert await peer.expect() == command
            await peer.reply(answer)
        await peer.expect_closed()
        await peer.close()
    assert out["opt"].digit is None and out["opt"].endpos == 1600
    assert out["wait"] is None
    assert (out["data"].digits, out["data"].timed_out) == ("0012", True)
    assert out["sd"] == "9" and out["sn"] is None
    assert out["var"] == 'a "b"' and out["unset"] is None
    assert out["exec"] == 0 and out["hung_up"] is True


# ---------------------------------------------------------------- HANGUP


async def test_hangup_line_mid_command_keeps_replies_paired() -> None:
    """Asterisk writes HANGUP before the reply to the command in flight.

    The reply (digit 9) must reach the command that asked for it (C10: the key
    is honoured), later commands must raise CallHungUp without being sent, and
    the handler's finally must still run its store work.
    """
    rec = Recorder()

    async def broadcast(session: AgiSession) -> None:
        try:
            rec.events.append(await session.stream_file("prompt", "9"))
            with pytest.raises(CallHungUp):
                await session.stream_file("next", "9")
            rec.events.append("raised")
        finally:
            await asyncio.sleep(0.01)  # stands for committing the revocation
            rec.finally_ran.set()

    async with running({"broadcast": broadcast}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env()
        assert (await peer.expect())[:2] == ["STREAM", "FILE"]
        await peer.reply("HANGUP", "200 result=57 endpos=4000")
        await asyncio.wait_for(rec.finally_ran.wait(), 5)
        await peer.expect_closed()  # "next" was never sent
        await peer.close()
    assert rec.events[0].digit == "9"
    assert rec.events[1] == "raised"


async def test_hangup_while_idle_stops_the_next_command() -> None:
    rec = Recorder()

    async def broadcast(session: AgiSession) -> None:
        await session.answer()
        await asyncio.wait_for(session.hangup_event.wait(), 5)
        try:
            await session.stream_file("x", "9")
        except CallHungUp:
            rec.events.append("hung up")
        await session.hangup()  # a no-op now, not an error
        rec.done.set()

    async with running({"broadcast": broadcast}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env()
        assert await peer.expect() == ["ANSWER"]
        await peer.reply("200 result=0", "HANGUP")
        await asyncio.wait_for(rec.done.wait(), 5)
        await peer.expect_closed()
        await peer.close()
    assert rec.events == ["hung up"]


async def test_dead_channel_511_and_result_minus_1_raise_call_hung_up() -> None:
    seen: list[str] = []

    async def route(s: AgiSession) -> None:
        try:
            await s.stream_file("gone", "9")
        except CallHungUp:
            seen.append("-1")
        try:
            await s.get_variable("X")
        except CallHungUp:
            seen.append("511")
        seen.append(f"hung_up={s.hung_up}")

    async with running({"r": route}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env("r")
        await peer.expect()
        await peer.reply("200 result=-1 endpos=0")
        await peer.expect()
        await peer.reply("511 Command Not Permitted on a dead channel")
        await peer.expect_closed()
        await peer.close()
    assert seen == ["-1", "511", "hung_up=True"]


async def test_520_usage_reply_does_not_shift_the_next_reply() -> None:
    seen: list[Any] = []

    async def route(s: AgiSession) -> None:
        with pytest.raises(AgiProtocolError, match="520"):
            await s.command("EXEC")
        seen.append(await s.get_variable("BOT_ACTION"))

    async with running({"r": route}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env("r")
        await peer.expect()
        await peer.reply(
            "520-Invalid command syntax.  Proper usage follows:",
            "Executes the given application.",
            "520 End of proper usage.",
        )
        await peer.expect()
        await peer.reply("200 result=1 (transfer)")
        await peer.expect_closed()
        await peer.close()
    assert seen == ["transfer"]


# --------------------------------------------------------- misbehaviour


async def _one_good_session(port: int, rec: Recorder, within: float = 5.0) -> float:
    """Run one complete session; return how long it took."""
    start = time.monotonic()
    peer = await AsteriskPeer.connect(port)
    await peer.send_env()
    await peer.expect(within)
    await peer.reply("200 result=0")
    await peer.expect_closed(within)
    await peer.close()
    return time.monotonic() - start


def _answer_route(rec: Recorder) -> Handler:
    async def route(s: AgiSession) -> None:
        await s.answer()
        rec.events.append("ok")

    return route


async def test_port_probes_and_stalled_clients_never_stall_others() -> None:
    rec = Recorder()
    async with running({"broadcast": _answer_route(rec)}, header_timeout=1.0) as server:
        port = server.bound_port
        # a stalled client: connects, sends half a header, then nothing
        stalled = await AsteriskPeer.connect(port)
        stalled.writer.write(b"agi_network: yes\n")
        # and 50 port probes: connect and close without a byte
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", port))
            s.close()
        elapsed = await _one_good_session(port, rec)
        assert elapsed < 0.5, f"a real session waited {elapsed:.2f}s behind probes"
        # the stalled client is dropped after header_timeout
        await stalled.expect_closed(3.0)
        await stalled.close()
        assert server.sessions_rejected == 1
        assert server.active_sessions == 0
    assert rec.events == ["ok"]


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xff\xfe\x00garbage\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(256)),
        b"agi_x: " + b"y" * 70000 + b"\n\n",
        b"\n",
    ],
    ids=["binary", "http", "tls-hello", "overlong-line", "empty-block"],
)
async def test_garbage_is_refused_and_the_server_lives_on(garbage: bytes) -> None:
    rec = Recorder()
    async with running({"broadcast": _answer_route(rec)}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        peer.writer.write(garbage)
        with contextlib.suppress(ConnectionError):
            await peer.writer.drain()
            await peer.expect_closed()
        await peer.close()
        await _one_good_session(server.bound_port, rec)
        assert server.sessions_started == 1
    assert rec.events == ["ok"]


async def test_non_utf8_environment_values_are_accepted() -> None:
    names: list[str] = []

    async def route(s: AgiSession) -> None:
        names.append(s.env.calleridname)

    async with running({"r": route}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        peer.writer.write(b"agi_network_script: r\nagi_calleridname: Jos\xe9\xff\nagi_arg_1: c\n\n")
        await peer.expect_closed()
        await peer.close()
    assert names == ["Jos\ufffd\ufffd"]


async def test_client_vanishing_after_headers_raises_in_handler_only() -> None:
    rec = Recorder()

    async def route(s: AgiSession) -> None:
        try:
            await asyncio.sleep(0.05)
            await s.stream_file("x", "9")
        except CallHungUp:
            rec.events.append("hung up")
            raise
        finally:
            rec.finally_ran.set()

    async with running({"broadcast": route, "ok": _answer_route(rec)}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env()
        await peer.close()
        await asyncio.wait_for(rec.finally_ran.wait(), 5)
        await _one_good_session(server.bound_port, rec)
    assert rec.events[0] == "hung up"


async def test_unknown_route_gets_a_clean_hangup_and_is_logged() -> None:
    async with running({"broadcast": _answer_route(Recorder())}) as server:
        with capture_logs() as logs:
            peer = await AsteriskPeer.connect(server.bound_port)
            await peer.send_env("nosuchroute", args=("call-9",))
            assert await peer.expect() == ["HANGUP"]
            await peer.reply("200 result=1")
            await peer.expect_closed()
            await peer.close()
    unknown = [e for e in logs if e["event"] == "fastagi.unknown_route"]
    assert len(unknown) == 1
    assert unknown[0]["log_level"] == "warning"


async def test_handler_exception_is_logged_and_server_keeps_serving() -> None:
    rec = Recorder()

    async def broken(s: AgiSession) -> None:
        raise RuntimeError("bug in a route")

    async with running({"broken": broken, "broadcast": _answer_route(rec)}) as server:
        with capture_logs() as logs:
            peer = await AsteriskPeer.connect(server.bound_port)
            await peer.send_env("broken")
            await peer.expect_closed()
            await peer.close()
            await _one_good_session(server.bound_port, rec)
    failed = [e for e in logs if e["event"] == "fastagi.handler_failed"]
    assert len(failed) == 1 and failed[0]["exc_info"] is True
    assert rec.events == ["ok"]


async def test_c18_logs_never_contain_the_caller_number() -> None:
    """C18: a whole session, including failures, logs no phone number."""

    async def route(s: AgiSession) -> None:
        await s.answer()
        raise RuntimeError("boom")

    structlog.contextvars.clear_contextvars()
    async with running({"broadcast": route}) as server:
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            peer = await AsteriskPeer.connect(server.bound_port)
            await peer.send_env()
            await peer.expect()
            await peer.reply("HANGUP", "200 result=0")
            await peer.expect_closed()
            await peer.close()
            peer = await AsteriskPeer.connect(server.bound_port)
            await peer.send_env("unknown")
            await peer.expect()
            await peer.reply("200 result=1")
            await peer.expect_closed()
            await peer.close()
    assert logs, "the session logged nothing at all"
    assert all(e.get("call_id") == "call-1" for e in logs)
    assert CALLER[2:] not in repr(logs)


async def test_command_timeout_closes_the_session() -> None:
    seen: list[str] = []

    async def route(s: AgiSession) -> None:
        try:
            await s.stream_file("x", "9")
        except AgiProtocolError as exc:
            seen.append(str(exc))
        with pytest.raises(CallHungUp):
            await s.answer()

    async with running({"r": route}, command_timeout=0.3) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env("r")
        await peer.expect()
        await peer.expect_closed()  # no reply from us: the server gives up
        await peer.close()
    assert seen == ["no reply to AGI STREAM FILE within 0.3 s"]


async def test_two_hundred_concurrent_sessions() -> None:
    n = 200
    rec = Recorder()

    async def route(s: AgiSession) -> None:
        result = await s.stream_file("prompt", "9")
        rec.events.append((s.env.call_id, result.digit))

    async def one(i: int) -> None:
        peer = await AsteriskPeer.connect(port)
        await peer.send_env(args=(f"call-{i}",))
        await peer.expect(10)
        await asyncio.sleep(0.05)  # everybody is mid-prompt at the same time
        await peer.reply(f"200 result={ord('9') if i % 2 else 0} endpos=100")
        await peer.expect_closed(10)
        await peer.close()

    async with running({"broadcast": route}, max_sessions=n) as server:
        port = server.bound_port
        start = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.monotonic() - start
    assert len(rec.events) == n
    assert sorted(rec.events) == sorted((f"call-{i}", "9" if i % 2 else None) for i in range(n))
    assert elapsed < 10


# ---------------------------------------------------------- lifecycle


async def test_port_in_use_is_a_clear_error() -> None:
    async with running({}) as first:
        second = FastAgiServer({}, "127.0.0.1", first.bound_port)
        with pytest.raises(
            AgiServerError,
            match=rf"^FastAGI port 127\.0\.0\.1:{first.bound_port} is already in use$",
        ):
            await second.start()


async def test_stop_cancels_running_sessions_and_runs_their_finally() -> None:
    rec = Recorder()

    async def route(s: AgiSession) -> None:
        try:
            rec.done.set()
            await s.stream_file("long", "9")
        finally:
            rec.finally_ran.set()

    server = FastAgiServer({"broadcast": route}, "127.0.0.1", 0)
    await server.start()
    peer = await AsteriskPeer.connect(server.bound_port)
    await peer.send_env()
    await peer.expect()
    await asyncio.wait_for(rec.done.wait(), 5)
    await asyncio.wait_for(server.stop(), 5)
    assert rec.finally_ran.is_set()
    await peer.expect_closed()
    await peer.close()
    with pytest.raises(AgiServerError, match="not running"):
        _ = server.bound_port
    # the port is free again
    again = FastAgiServer({}, "127.0.0.1", 0)
    await again.start()
    await again.stop()
