"""The AMI client and the FastAGI server against the real sandbox Asterisk.

Tests marked ``integration`` talk to the sandbox Asterisk 22 (scripts/asterisk-sandbox)
and its dialplan (asterisk_conf/extensions.conf + the sandbox phones): real
AMI login, real Originate of Local channels, real FastAGI sessions from
Asterisk to our server. The unmarked tests need no Asterisk: they prove the
client's behaviour against a closed port or a silent TCP listener, which is
exactly what a dead or hung Asterisk looks like on the wire.

Sandbox phones used (last digit of the number, extensions_sandbox.conf):
5 answers and presses 9 after 1.5 s, 6 answers and listens 30 s,
7 unallocated (cause 1), 9 busy (cause 17).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from support.sandbox import Sandbox

from dialer.campaign.callevents import (
    AgiEnded,
    AgiStarted,
    CallPolicy,
    DialReport,
    DigitHeard,
    Hangup,
    OriginateResponse,
    OriginateSent,
    RecordOutcome,
    StoreDone,
)
from dialer.campaign.callflow import CallFlow
from dialer.errors import AmiAuthError, AmiConnectError, AmiTimeoutError, TelephonyError
from dialer.model.outcome import Outcome
from dialer.telephony.ami import AmiClient, CallEvents, OriginateResult
from dialer.telephony.fastagi import AgiSession, FastAgiServer


@pytest.fixture
async def ami(sandbox: Sandbox) -> AsyncIterator[AmiClient]:
    client = AmiClient(
        sandbox.ami_host,
        sandbox.ami_port,
        sandbox.ami_user,
        sandbox.ami_secret(),
        connect_timeout=5,
    )
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def machine_outcome(
    result: OriginateResult,
    events: CallEvents,
    *,
    agi_ran: bool = False,
    agi_digit: str | None = None,
) -> RecordOutcome:
    """What the call state machine records, fed what this call reported (store writes succeed)."""
    flow = CallFlow(CallPolicy(segments=1))
    flow.handle(OriginateSent())
    if agi_ran:
        flow.handle(AgiStarted())
        if agi_digit:
            flow.handle(DigitHeard(agi_digit, "agi", flow.play_id))
    flow.handle(OriginateResponse(result.answered, result.reason))
    for digit in events.digits:
        flow.handle(DigitHeard(digit, "ami"))
    if events.dial_reported.is_set():
        flow.handle(DialReport(events.dial_status, events.dial_cause))
    flow.handle(Hangup(events.hangup_cause()))
    if agi_ran:
        flow.handle(AgiEnded())
    for write in sorted(flow.pending):
        flow.handle(StoreDone(write))
    assert flow.outcome is not None
    return flow.outcome


def new_call_id() -> str:
    return f"it-{uuid.uuid4().hex[:16]}"


async def place_call(
    ami: AmiClient, agi_port: int, number: str, call_id: str, ring: int = 10
) -> tuple[OriginateResult, CallEvents]:
    """Originate exactly as the engine does (the contract in extensions.conf)."""
    events = ami.calls.register(call_id)
    result = await ami.originate(
        call_id,
        channel="Local/dial@dialer-outbound",
        context="dialer-answered",
        exten="s",
        priority=1,
        caller_id='"Example School" <+12025550100>',
        variables={
            "__CALL_ID": call_id,
            "__DIALER_DIAL": f"Local/{number}@sandbox-phones",
            "__DIALER_RING": str(ring),
            "__DIALER_AGI": f"agi://127.0.0.1:{agi_port}",
        },
        timeout_s=ring + 5,
    )
    return result, events


async def settle(events: CallEvents, within: float = 20.0) -> None:
    assert await events.wait_complete(within), "the call never ended or never reported Dial()"
    # the ";2" half reports Dial() from its h extension, then hangs up: on a loaded
    # machine its Hangup event can trail the report by a moment
    deadline = time.monotonic() + 3
    while events.leg2_id not in {h.uniqueid for h in events.hangups}:
        if time.monotonic() > deadline or not events.dial_status:
            break
        await asyncio.sleep(0.05)


# ------------------------------------------------------------ connecting


@pytest.mark.integration
async def test_connect_login_and_ping(sandbox: Sandbox) -> None:
    client = AmiClient(sandbox.ami_host, sandbox.ami_port, sandbox.ami_user, sandbox.ami_secret())
    assert not client.connected
    start = time.monotonic()
    await client.connect()
    assert client.connected
    await client.ping()
    assert time.monotonic() - start < 2
    assert sandbox.ami_secret() not in repr(client)
    await client.close()
    assert not client.connected
    with pytest.raises(AmiTimeoutError, match="not connected"):
        await client.ping()


@pytest.mark.integration
async def test_wrong_secret_is_an_auth_error_within_5s(sandbox: Sandbox) -> None:
    client = AmiClient(sandbox.ami_host, sandbox.ami_port, sandbox.ami_user, "wrong-secret")
    start = time.monotonic()
    with pytest.raises(AmiAuthError) as info:
        await client.connect()
    assert time.monotonic() - start < 5
    assert str(info.value) == (
        f"AMI login refused for user '{sandbox.ami_user}' (check asterisk.ami_secret_file)"
    )
    assert not client.connected
    # panoramisk's own reconnect loop must not keep knocking
    await asyncio.sleep(2.5)
    assert client._manager is not None and client._manager.protocol.closed


async def test_closed_port_is_a_connect_error_within_2s() -> None:
    port = _free_port()
    client = AmiClient("127.0.0.1", port, "dialer", "x", connect_timeout=5)
    start = time.monotonic()
    with pytest.raises(AmiConnectError) as info:
        await client.connect()
    assert time.monotonic() - start < 2
    assert str(info.value) == f"cannot reach Asterisk AMI at 127.0.0.1:{port}: connection refused"


async def test_silent_listener_is_a_timeout_error() -> None:
    """A hung Asterisk: the port accepts but never says anything."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AmiClient("127.0.0.1", port, "dialer", "x", connect_timeout=1.0)
    start = time.monotonic()
    with pytest.raises(AmiTimeoutError, match="did not answer the login within 1 s"):
        await client.connect()
    assert time.monotonic() - start < 2
    for w in held:
        w.close()
    server.close()
    await server.wait_closed()


async def test_actions_before_connect_fail_at_once() -> None:
    client = AmiClient("127.0.0.1", _free_port(), "dialer", "x")
    start = time.monotonic()
    with pytest.raises(AmiTimeoutError, match="not sent: not connected"):
        await client.send_action({"Action": "Ping"})
    with pytest.raises(AmiTimeoutError, match="not connected"):
        await client.originate(
            "c-1", "Local/dial@dialer-outbound", "dialer-answered", "s", 1, "x", {}, 5
        )
    assert time.monotonic() - start < 0.5


async def test_originate_refuses_values_asterisk_would_split() -> None:
    client = AmiClient()
    with pytest.raises(TelephonyError, match="comma"):
        await client.originate("c-1", "Local/x@y", "c", "s", 1, "x", {"A": "1,2"}, 5)
    with pytest.raises(TelephonyError, match="call id"):
        await client.originate("bad id", "Local/x@y", "c", "s", 1, "x", {}, 5)
    assert len(client.calls) == 0  # nothing registered for a refused call


class CuttableProxy:
    """A TCP relay to the real Asterisk that the test can freeze and cut."""

    def __init__(self, target: Sandbox) -> None:
        self.target = target
        self.frozen = False
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _client(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ar, aw = await asyncio.open_connection(self.target.ami_host, self.target.ami_port)
        self.writers += [cw, aw]

        async def pump(r: asyncio.StreamReader, w: asyncio.StreamWriter, to_client: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await r.read(65536):
                    if to_client and self.frozen:
                        continue
                    w.write(data)
                    await w.drain()

        await asyncio.gather(pump(cr, aw, False), pump(ar, cw, True))

    async def cut(self) -> None:
        for w in self.writers:
            w.close()
        assert self.server is not None
        self.server.close()


@pytest.mark.integration
async def test_connection_loss_is_surfaced_and_pending_actions_fail(
    sandbox: Sandbox,
) -> None:
    proxy = CuttableProxy(sandbox)
    port = await proxy.start()
    reasons: list[str] = []
    client = AmiClient(
        "127.0.0.1",
        port,
        sandbox.ami_user,
        sandbox.ami_secret(),
        on_disconnect=reasons.append,
    )
    await client.connect()
    await client.ping()
    proxy.frozen = True  # Asterisk's answers stop arriving
    pending = asyncio.create_task(client.send_action({"Action": "Ping"}, wait=30))
    await asyncio.sleep(0.2)
    await proxy.cut()
    start = time.monotonic()
    with pytest.raises(AmiTimeoutError, match="ended while waiting for Ping"):
        await pending
    assert time.monotonic() - start < 2
    assert reasons == ["connection lost"]
    assert not client.connected and client.disconnect_reason == "connection lost"
    with pytest.raises(AmiTimeoutError, match="not connected"):
        await client.ping()
    await client.close()
    assert reasons == ["connection lost"]  # a deliberate close is not reported


@pytest.mark.integration
async def test_heartbeat_notices_a_stalled_connection(sandbox: Sandbox) -> None:
    proxy = CuttableProxy(sandbox)
    port = await proxy.start()
    reasons: list[str] = []
    gone = asyncio.Event()

    def lost(reason: str) -> None:
        reasons.append(reason)
        gone.set()

    client = AmiClient(
        "127.0.0.1",
        port,
        sandbox.ami_user,
        sandbox.ami_secret(),
        action_timeout=0.5,
        heartbeat_interval=0.3,
        on_disconnect=lost,
    )
    await client.connect()
    proxy.frozen = True  # TCP stays up, Asterisk "hangs"
    await asyncio.wait_for(gone.wait(), 3)
    assert not client.connected
    assert reasons == ["connection lost"]
    await client.close()
    await proxy.cut()


# ------------------------------------------------------------------ calls


@pytest.fixture
async def agi_server() -> AsyncIterator[tuple[FastAgiServer, dict[str, list[object]]]]:
    """Our FastAGI server with a broadcast route that listens for keypad 9."""
    seen: dict[str, list[object]] = {}

    async def broadcast(session: AgiSession) -> None:
        call_id = session.env.call_id or "?"
        record = seen.setdefault(call_id, [])
        await session.answer()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            result = await session.stream_file("beep", "9")
            digit = result.digit or await session.wait_for_digit(200)
            if digit:
                record.append(digit)
                return

    server = FastAgiServer({"broadcast": broadcast}, "127.0.0.1", 0)
    await server.start()
    try:
        yield server, seen
    finally:
        await server.stop()


@pytest.mark.integration
async def test_c10_keypad_9_reaches_the_fastagi_route(
    ami: AmiClient, agi_server: tuple[FastAgiServer, dict[str, list[object]]]
) -> None:
    """C10: a 9 pressed during the prompt is caught by STREAM FILE's escape digit."""
    server, seen = agi_server
    call_id = new_call_id()
    start = time.monotonic()
    result, events = await place_call(ami, server.bound_port, "12025550125", call_id)
    assert result.answered and result.reason == 4 and result.uniqueid == call_id
    await settle(events)
    assert seen[call_id] == ["9"]
    assert time.monotonic() - start < 8
    assert events.dial_status == "ANSWER"
    assert "9" in events.digits  # AMI saw the key on the ;1 channel too
    ids = {h.uniqueid for h in events.hangups}
    assert {call_id, f"{call_id}-2"} <= ids
    decision = machine_outcome(result, events, agi_ran=True)
    assert decision.outcome is Outcome.OPTED_OUT
    ami.calls.unregister(call_id)
    assert ami.calls.get(call_id) is None


@pytest.mark.integration
async def test_busy_number_reports_status_busy(
    ami: AmiClient, agi_server: tuple[FastAgiServer, dict[str, list[object]]]
) -> None:
    server, seen = agi_server
    call_id = new_call_id()
    result, events = await place_call(ami, server.bound_port, "12025550129", call_id)
    assert not result.answered
    await settle(events)
    assert events.dial_status == "BUSY"
    assert events.hangup_cause() == 17
    assert call_id not in seen  # never answered, so no AGI session
    decision = machine_outcome(result, events)
    assert (decision.outcome, decision.detail) == (Outcome.BUSY, "busy")


@pytest.mark.integration
async def test_c16_unallocated_number_is_not_retried(
    ami: AmiClient, agi_server: tuple[FastAgiServer, dict[str, list[object]]]
) -> None:
    server, _ = agi_server
    call_id = new_call_id()
    result, events = await place_call(ami, server.bound_port, "12025550127", call_id)
    await settle(events)
    assert (events.dial_status, events.hangup_cause()) == ("CHANUNAVAIL", 1)
    decision = machine_outcome(result, events)
    assert (decision.outcome, decision.detail) == (Outcome.FAILED, "unallocated")


@pytest.mark.integration
async def test_concurrent_calls_keep_their_events_apart(
    ami: AmiClient, agi_server: tuple[FastAgiServer, dict[str, list[object]]]
) -> None:
    server, seen = agi_server
    numbers = ["12025550125", "12025550129", "12025550127", "12025550120"] * 3
    ids = [new_call_id() for _ in numbers]
    placed = await asyncio.gather(
        *(place_call(ami, server.bound_port, n, c) for n, c in zip(numbers, ids, strict=True))
    )
    await asyncio.gather(*(settle(ev) for _, ev in placed))
    expected = {"5": "ANSWER", "9": "BUSY", "7": "CHANUNAVAIL", "0": "CONGESTION"}
    for number, call_id, (_, events) in zip(numbers, ids, placed, strict=True):
        assert events.call_id == call_id
        assert events.dial_status == expected[number[-1]]
        own = {call_id, f"{call_id}-2"}
        assert own <= {h.uniqueid for h in events.hangups}
        assert not any(h.uniqueid in set(ids) - {call_id} for h in events.hangups)
        if number.endswith("5"):
            assert seen[call_id] == ["9"]
        else:
            assert call_id not in seen


@pytest.mark.integration
async def test_hangup_call_ends_an_answered_call(
    ami: AmiClient, agi_server: tuple[FastAgiServer, dict[str, list[object]]]
) -> None:
    server, _ = agi_server
    call_id = new_call_id()
    result, events = await place_call(ami, server.bound_port, "12025550126", call_id)
    assert result.answered
    assert not events.finished.is_set()
    start = time.monotonic()
    assert await ami.hangup_call(call_id) is True
    assert await events.wait_finished(3)
    assert time.monotonic() - start < 3
    assert await ami.hangup_call(call_id) is False  # already gone


@pytest.mark.integration
async def test_refused_originate_still_finishes(ami: AmiClient) -> None:
    call_id = new_call_id()
    result = await ami.originate(
        call_id, "Local/dial@no-such-context", "dialer-answered", "s", 1, "x <+1>", {}, 5
    )
    assert not result.answered
    events = ami.calls.get(call_id)
    assert events is not None and await events.wait_finished(3)


@pytest.mark.integration
@pytest.mark.slow
async def test_c10_hundred_concurrent_calls_each_see_their_9(
    ami: AmiClient, agi_server: tuple[FastAgiServer, dict[str, list[object]]]
) -> None:
    """C10 under load: every answered call's 9 is seen, by the route or by AMI.

    The sandbox phone presses 9 1.5 s after answer; on a loaded machine the
    AGI session can start after that, and a key pressed between AGI commands
    never reaches the route. AMI's DTMFEnd on the ;1 channel still records it,
    which is why the call state machine treats those digits as an opt-out too.
    """
    server, seen = agi_server
    ids = [new_call_id() for _ in range(100)]
    start = time.monotonic()
    placed = await asyncio.gather(
        *(place_call(ami, server.bound_port, "12025550125", c) for c in ids)
    )
    # generous: on a loaded 2-core machine 100 calls (400 channels) take a while
    await asyncio.gather(*(settle(ev, 90) for _, ev in placed))
    elapsed = time.monotonic() - start
    for call_id, (result, events) in zip(ids, placed, strict=True):
        assert result.answered
        assert "9" in events.digits or seen.get(call_id) == ["9"]
        agi_digit = "9" if seen.get(call_id) else None
        decision = machine_outcome(result, events, agi_ran=True, agi_digit=agi_digit)
        assert decision.outcome is Outcome.OPTED_OUT
    assert elapsed < 30


@pytest.mark.integration
async def test_sip_phone_busy_486_reports_status_busy(
    ami: AmiClient,
    agi_server: tuple[FastAgiServer, dict[str, list[object]]],
    phones: object,
) -> None:
    """SIPp phone 3 answers INVITE with 486 Busy Here (a real SIP leg)."""
    server, seen = agi_server
    call_id = new_call_id()
    result, events = await place_call(ami, server.bound_port, "12025550133", call_id)
    await settle(events)
    assert not result.answered and call_id not in seen
    assert (events.dial_status, events.hangup_cause()) == ("BUSY", 17)


@pytest.mark.integration
async def test_c10_sip_phone_rfc4733_9_reaches_the_fastagi_route(
    ami: AmiClient,
    agi_server: tuple[FastAgiServer, dict[str, list[object]]],
    phones: object,
) -> None:
    """C10 over real SIP: SIPp phone 1 sends an RFC 4733 '9' 1.5 s after answer."""
    server, seen = agi_server
    call_id = new_call_id()
    result, events = await place_call(ami, server.bound_port, "12025550131", call_id)
    assert result.answered
    await settle(events)
    assert seen[call_id] == ["9"]
    assert events.dial_status == "ANSWER"
