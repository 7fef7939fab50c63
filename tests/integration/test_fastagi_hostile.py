"""Hostile FastAGI clients cannot exhaust the server or forge a keypress (issue 8 item 1).

The real server on loopback against raw-socket peers (tests/support/agi_peer.py)
writing the bytes a flood, a silent client or a forger would: no mock. The
same attacks during a running campaign against the sandbox Asterisk are in
test_fastagi_spoof_live.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.agi_peer import AsteriskPeer

from dialer.telephony.agi_protocol import MAX_ENV_BYTES, AgiProtocolError
from dialer.telephony.fastagi import AgiSession, CallHungUp, FastAgiServer, Handler, session_cap


@contextlib.asynccontextmanager
async def running(routes: Mapping[str, Handler], **kw: Any) -> AsyncIterator[FastAgiServer]:
    server = FastAgiServer(routes, "127.0.0.1", 0, **kw)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def connect(port: int) -> socket.socket:
    """A raw client socket, connected without blocking the loop (the server shares it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return sock


async def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closed this raw client socket within ``seconds``."""
    loop = asyncio.get_running_loop()
    try:
        data = await asyncio.wait_for(loop.sock_recv(sock, 1), seconds)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return data == b""


def test_session_cap_follows_the_engine_concurrency() -> None:
    assert session_cap(30) == 40
    assert session_cap(300) == 375
    assert session_cap(1) == 11


async def test_past_the_cap_connections_close_at_once_calls_go_on_and_one_warning() -> None:
    cap = 5
    release = asyncio.Event()
    finished: list[str] = []

    async def route(s: AgiSession) -> None:
        result = await s.stream_file("message", "9")
        finished.append(f"{s.env.call_id}:{result.digit}")

    async with running({"broadcast": route}, max_sessions=cap) as server:
        port = server.bound_port
        calls = []
        for i in range(cap):  # calls in progress: each mid-prompt
            peer = await AsteriskPeer.connect(port)
            await peer.send_env(args=(f"call-{i}",))
            assert (await peer.expect())[:2] == ["STREAM", "FILE"]
            calls.append(peer)
        with capture_logs() as logs:
            flood = [await connect(port) for _ in range(200)]
            started = time.monotonic()
            results = await asyncio.gather(*(closed_within(s, 2.0) for s in flood))
            elapsed = time.monotonic() - started
            for s in flood:
                s.close()
            assert all(results), f"{results.count(False)} flood connections stayed open"
            assert elapsed < 2.0
            assert server.sessions_refused == 200
            assert server.active_sessions == cap
            # the calls in progress are unaffected: each gets its reply and ends
            release.set()
            for i, peer in enumerate(calls):
                await peer.reply("200 result=0 endpos=8000" if i % 2 else "200 result=57")
                await peer.expect_closed()
                await peer.close()
            # once sessions ended, a new call is served again
            peer = await AsteriskPeer.connect(port)
            await peer.send_env(args=("call-new",))
            await peer.expect()
            await peer.reply("200 result=0")
            await peer.expect_closed()
            await peer.close()
    reached = [e for e in logs if e["event"] == "fastagi.session_cap_reached"]
    over = [e for e in logs if e["event"] == "fastagi.session_cap_burst_over"]
    assert len(reached) == 1 and reached[0]["log_level"] == "warning"
    assert len(over) == 1 and over[0]["refused"] == 200
    assert len(logs) < 10, [e["event"] for e in logs]  # not one line per connection
    assert sorted(finished) == sorted(
        [f"call-{i}:{'9' if i % 2 == 0 else None}" for i in range(cap)] + ["call-new:None"]
    )


async def test_idle_connections_under_the_cap_are_dropped_after_the_header_deadline() -> None:
    async with running({}, header_timeout=0.3, max_sessions=50) as server:
        idle = [await connect(server.bound_port) for _ in range(40)]
        results = await asyncio.gather(*(closed_within(s, 2.0) for s in idle))
        for s in idle:
            s.close()
        assert all(results)
        assert server.sessions_rejected == 40
        await asyncio.sleep(0.05)
        assert server.active_sessions == 0


async def test_a_peer_silent_after_its_header_is_dropped_quickly() -> None:
    """Quick commands (ANSWER, GET VARIABLE, HANGUP) get a short deadline."""
    outcome: list[str] = []

    async def route(s: AgiSession) -> None:
        try:
            await s.answer()
        except AgiProtocolError as exc:
            outcome.append(str(exc))
            raise

    async with running({"r": route}, quick_reply_timeout=0.3) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env("r")
        assert await peer.expect() == ["ANSWER"]
        started = time.monotonic()
        await peer.expect_closed(3.0)  # we never reply
        assert time.monotonic() - started < 1.5
        await peer.close()
        await asyncio.sleep(0.05)
        assert server.active_sessions == 0
    assert outcome == ["no reply to AGI ANSWER within 0.3 s"]


async def test_unknown_call_route_does_not_hold_a_session_long() -> None:
    async with running({}, quick_reply_timeout=0.3) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env("nosuchroute")
        assert await peer.expect() == ["HANGUP"]
        started = time.monotonic()
        await peer.expect_closed(3.0)
        assert time.monotonic() - started < 1.5
        await peer.close()


async def test_environment_block_is_bounded_in_bytes() -> None:
    """Today 512 lines of 16 KiB each: 20 connections could hold 170 MB."""
    ran: list[str] = []
    async with running({"broadcast": _never(ran)}) as server:
        peers = []
        for _ in range(20):
            peer = await AsteriskPeer.connect(server.bound_port)
            line = b"agi_x: " + b"y" * 16000 + b"\n"
            with contextlib.suppress(ConnectionError):
                for _ in range(3):  # under the line limit, over the block limit
                    peer.writer.write(line)
                    await peer.writer.drain()
            peers.append(peer)
        for peer in peers:
            with contextlib.suppress(ConnectionError):
                await peer.expect_closed()
            await peer.close()
        assert server.sessions_rejected == 20
        assert server.sessions_started == 0
    assert ran == []
    assert MAX_ENV_BYTES <= 64 * 1024


def _never(sink: list[str]) -> Handler:
    async def route(s: AgiSession) -> None:
        sink.append("handler ran")

    return route


async def test_a_reply_sent_before_any_command_is_a_protocol_error_not_a_keypress() -> None:
    """A forger pre-sends ``200 result=57`` ("9 pressed") right after its header."""
    seen: list[str] = []
    go = asyncio.Event()

    async def route(s: AgiSession) -> None:
        await go.wait()  # the route's first command comes a moment later
        try:
            result = await s.stream_file("message", "98")
            seen.append(f"digit {result.digit}")
        except AgiProtocolError as exc:
            seen.append(f"protocol error: {exc}")
        except CallHungUp:
            seen.append("hung up")

    async with running({"broadcast": route}) as server:
        with capture_logs() as logs:
            peer = await AsteriskPeer.connect(server.bound_port)
            await peer.send_env()
            await peer.reply("200 result=57")
            await peer.expect_closed()
            go.set()
            await peer.close()
            for _ in range(50):
                if seen:
                    break
                await asyncio.sleep(0.02)
    assert seen == ["protocol error: AGI reply received before any command was sent"]
    errors = [e for e in logs if e["event"] == "fastagi.protocol_error"]
    assert len(errors) == 1


async def test_a_second_unsolicited_reply_after_a_command_is_a_protocol_error() -> None:
    seen: list[str] = []

    async def route(s: AgiSession) -> None:
        await s.answer()
        await asyncio.sleep(0.1)
        try:
            result = await s.stream_file("message", "9")
            seen.append(f"digit {result.digit}")
        except AgiProtocolError as exc:
            seen.append(str(exc))

    async with running({"broadcast": route}) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env()
        assert await peer.expect() == ["ANSWER"]
        await peer.reply("200 result=0", "200 result=57")  # one reply too many
        await peer.expect_closed()
        await peer.close()
        await asyncio.sleep(0.2)
    assert seen == ["AGI reply received before any command was sent"]


async def test_a_number_too_large_to_parse_ends_the_session_at_once() -> None:
    """Today the reader task dies and the command waits its whole timeout."""
    seen: list[str] = []

    async def route(s: AgiSession) -> None:
        try:
            await s.stream_file("message", "9")
        except AgiProtocolError as exc:
            seen.append(str(exc))

    async with running({"broadcast": route}, command_timeout=30) as server:
        peer = await AsteriskPeer.connect(server.bound_port)
        await peer.send_env()
        await peer.expect()
        started = time.monotonic()
        await peer.reply("200 result=" + "9" * 5000)
        await peer.expect_closed(5.0)
        assert time.monotonic() - started < 2.0
        await peer.close()
        await asyncio.sleep(0.05)
        assert server.active_sessions == 0
    assert len(seen) == 1 and "not Asterisk" in seen[0]


@pytest.mark.parametrize("cap", [0, -1])
def test_a_cap_below_one_is_refused(cap: int) -> None:
    from dialer.errors import AgiServerError

    with pytest.raises(AgiServerError, match="max_sessions"):
        FastAgiServer({}, "127.0.0.1", 0, max_sessions=cap)
