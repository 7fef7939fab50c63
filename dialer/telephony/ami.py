"""AMI client: login, Originate, and per-call event routing over panoramisk 1.4.

panoramisk does the framing; this module fixes what DESIGN.md ("AMI and AGI
facts") says it gets wrong for an engine:

- it never gives up: a refused port or a wrong secret makes it retry forever.
  We open the TCP connection ourselves (bounded by ``connect_timeout``), read
  the Login response ourselves, and never let it reconnect on its own; a lost
  connection is *surfaced* (``connected`` flag, ``on_disconnect`` callback) so
  the runner stops dialing and decides what to do;
- actions sent while disconnected never resolve: every await here is bounded
  and raises :class:`~dialer.errors.AmiTimeoutError`;
- events for a call can arrive before ``originate()`` returns: calls are
  registered before the action is written, and events are routed by the
  ``ChannelId`` we assign (the call id) and the ``-2`` id of the Local
  channel's second half.

Channel ids of one call (telephony/dialout.py, extensions.conf): originated
directly, the callee's channel is ``<call_id>`` (a Local dial string's ";2" is
``<call_id>-2``). Through the hop (Local/dial@dialer-outbound) ``<call_id>`` is
";1" (runs [dialer-answered] and the AGI), ``<call_id>-2`` is ";2" (runs
Dial()), and the callee's channel has Linkedid ``<call_id>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import structlog
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager

from dialer.errors import (
    AmiAuthError,
    AmiConnectError,
    AmiNotSentError,
    AmiTimeoutError,
    ConfigError,
    TelephonyError,
)
from dialer.settings import DEFAULT_AMI_PORT, AsteriskServer
from dialer.telephony.outcomes import parse_cause

__all__ = [
    "AmiClient",
    "CallEvents",
    "CallRegistry",
    "HangupInfo",
    "OriginateResult",
]

log = structlog.get_logger(__name__)

#: Asterisk limits ChannelId to AST_MAX_PUBLIC_UNIQUEID (149); "-2" is appended
MAX_CALL_ID = 147
_CALL_ID = re.compile(r"[A-Za-z0-9._:@-]+")
#: only what the engine needs; fewer events = less work at 100+ calls/s
LOGIN_EVENTS = "system,call,user,dtmf"


class _RedactArgs(logging.Filter):
    """panoramisk logs whole actions (with our Variable headers, which hold the
    dial string, i.e. a phone number); keep its messages, drop their arguments (C18)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = f"{record.msg} [arguments withheld]"
            record.args = None
        return True


_panoramisk_log = logging.getLogger("dialer.telephony.ami.panoramisk")
_panoramisk_log.addFilter(_RedactArgs())


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class OriginateResult:
    """The OriginateResponse (or the immediate error Response) of one Originate."""

    #: "Success" (answered), "Failure" (not answered), "Error" (action refused)
    response: str
    #: 0 failed, 1 hung up, 3 no answer, 4 answered, 5 busy, 8 congestion
    reason: int | None
    uniqueid: str | None
    raw: Mapping[str, str] = field(repr=False, compare=False)

    @property
    def answered(self) -> bool:
        return self.response == "Success"


@dataclass(frozen=True)
class HangupInfo:
    uniqueid: str
    channel: str
    cause: int | None
    cause_txt: str


class CallEvents:
    """Everything AMI reported about one call, collected as it happens."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.dial_status: str | None = None
        self.dial_cause: int | None = None
        #: set when the dialplan's DialerDial UserEvent arrived
        self.dial_reported = asyncio.Event()
        self.hangups: list[HangupInfo] = []
        #: keys received on the ";1" channel (the one the AGI listens on)
        self.digits = ""
        self.originate: OriginateResult | None = None
        #: set when the ";1" channel (Uniqueid == call id) has hung up, or when
        #: the Originate was refused and no channel will ever exist
        self.finished = asyncio.Event()
        #: called with (event name, message) after each event was taken in: the
        #: call's shell turns them into state machine events (campaign/call.py)
        self.listener: Callable[[str, Mapping[str, Any]], None] | None = None
        #: the ";1" channel's name as Asterisk reported it (Newchannel, else the
        #: OriginateResponse): a FastAGI session must come from this very channel
        #: (issue 8 item 1); ``channel_known`` is set once it is
        self.channel: str | None = None
        self.channel_known = asyncio.Event()

    def learn_channel(self, name: str) -> None:
        """The ";1" channel's name, from the first AMI message that says it."""
        if name and self.channel is None:
            self.channel = name
            self.channel_known.set()

    @property
    def leg2_id(self) -> str:
        return f"{self.call_id}-2"

    def hangup_cause(self) -> int | None:
        """The finest cause known: DialerDial's, else the callee leg's, else ;1's."""
        if self.dial_cause:
            return self.dial_cause
        ours = {self.call_id, self.leg2_id}
        for h in self.hangups:
            if h.uniqueid not in ours and h.cause:
                return h.cause
        for h in self.hangups:
            if h.cause:
                return h.cause
        return None

    async def wait_finished(self, within: float) -> bool:
        """Wait until the call has ended; False if it has not within ``within`` s."""
        try:
            await asyncio.wait_for(self.finished.wait(), within)
        except TimeoutError:
            return False
        return True

    async def wait_complete(self, within: float, report_grace: float = 3.0) -> bool:
        """Wait for the end of the call *and* the dialplan's DialerDial report.

        For an answered call the report comes from the ";2" half's ``h``
        extension, just after ";1" hangs up; ``report_grace`` bounds that wait.
        False if the call has not ended within ``within`` s or the report never came.
        """
        if not await self.wait_finished(within):
            return False
        try:
            await asyncio.wait_for(self.dial_reported.wait(), report_grace)
        except TimeoutError:
            return False
        return True

    # -- fed by CallRegistry -------------------------------------------------

    def _on_event(self, name: str, msg: Mapping[str, Any]) -> None:
        uniqueid = _header(msg, "Uniqueid")
        if name == "Hangup":
            self.hangups.append(
                HangupInfo(
                    uniqueid=uniqueid,
                    channel=_header(msg, "Channel"),
                    cause=parse_cause(_header(msg, "Cause")),
                    cause_txt=_header(msg, "Cause-txt"),
                )
            )
            if uniqueid == self.call_id:
                self.finished.set()
        elif name == "Newchannel":
            if uniqueid == self.call_id:
                self.learn_channel(_header(msg, "Channel"))
        elif name == "DTMFEnd":
            if uniqueid == self.call_id and _header(msg, "Direction") == "Received":
                self.digits += _header(msg, "Digit")
        elif name == "UserEvent":
            self.dial_status = _header(msg, "Status") or None
            self.dial_cause = parse_cause(_header(msg, "Cause"))
            self.dial_reported.set()
        if self.listener is not None:
            self.listener(name, msg)


class CallRegistry:
    """Routes call events to the :class:`CallEvents` of the call they belong to."""

    def __init__(self) -> None:
        self._calls: dict[str, CallEvents] = {}

    def register(self, call_id: str) -> CallEvents:
        """Start collecting events for ``call_id`` (idempotent)."""
        events = self._calls.get(call_id)
        if events is None:
            events = self._calls[call_id] = CallEvents(call_id)
        return events

    def unregister(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    def get(self, call_id: str) -> CallEvents | None:
        return self._calls.get(call_id)

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def dispatch(self, msg: Mapping[str, Any]) -> CallEvents | None:
        """Route one AMI event; returns the call it went to (None: not ours)."""
        name = _header(msg, "Event")
        if name == "UserEvent":
            if _header(msg, "UserEvent") != "DialerDial":
                return None
            events = self._calls.get(_header(msg, "CallId"))
        else:
            events = self._owner(msg)
        if events is not None:
            events._on_event(name, msg)
        return events

    def _owner(self, msg: Mapping[str, Any]) -> CallEvents | None:
        uniqueid = _header(msg, "Uniqueid")
        events = self._calls.get(uniqueid)
        if events is None and uniqueid.endswith("-2"):
            events = self._calls.get(uniqueid[:-2])
        if events is None:
            events = self._calls.get(_header(msg, "Linkedid"))
        return events


def _header(msg: Mapping[str, Any], name: str) -> str:
    value = msg.get(name, "")
    if isinstance(value, list):  # repeated header
        value = value[0] if value else ""
    return str(value) if value is not None else ""


# ------------------------------------------------------------------- client


def tls_context(ca_file: Path) -> ssl.SSLContext:
    """What an AMI connection over TLS trusts: ``ca_file`` only, TLS 1.2 or newer,
    the certificate's name checked (issue 8 item 8: AMI to a remote PBX)."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"asterisk.ami_tls_ca_file {ca_file} does not exist (the CA certificate that "
            "signed Asterisk's AMI certificate)"
        ) from exc
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"asterisk.ami_tls_ca_file {ca_file} is not a PEM certificate: {exc}"
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def client_for(
    server: AsteriskServer,
    secret: str,
    *,
    connect_timeout: float,
    action_timeout: float,
    heartbeat_interval: float = 10.0,
    on_disconnect: Callable[[str], None] | None = None,
) -> AmiClient:
    """The AMI client for one configured PBX, over TLS when ``ami_tls`` is set."""
    return AmiClient(
        server.ami_host,
        server.ami_port,
        server.ami_user,
        secret,
        connect_timeout=connect_timeout,
        action_timeout=action_timeout,
        heartbeat_interval=heartbeat_interval,
        on_disconnect=on_disconnect,
        tls=tls_context(server.ami_tls_ca_file) if server.ami_tls else None,
        tls_server_name=server.ami_tls_server_name,
    )


class _Manager(Manager):  # type: ignore[misc]  # panoramisk is untyped
    """panoramisk's Manager without its own reconnect loop and pinger."""

    pinger: asyncio.TimerHandle | None

    def __init__(self, on_lost: Callable[[object], None], **config: Any) -> None:
        super().__init__(**config)
        self._on_lost = on_lost

    def ping(self) -> None:  # the client runs its own bounded heartbeat
        self.pinger = None

    def connection_lost(self, exc: object) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self._on_lost(exc)


class AmiClient:
    """One AMI session for the engine. Not reconnecting: see module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_AMI_PORT,
        user: str = "dialer",
        secret: str = "",
        *,
        connect_timeout: float = 5.0,
        action_timeout: float = 10.0,
        heartbeat_interval: float = 10.0,
        on_disconnect: Callable[[str], None] | None = None,
        tls: ssl.SSLContext | None = None,
        tls_server_name: str = "",
    ) -> None:
        self.host = host
        self.port = port
        #: AMI over TLS (manager.conf tlsenable): the context that verifies Asterisk
        self.tls = tls
        self.tls_server_name = tls_server_name or host
        self.user = user
        self._secret = secret
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.heartbeat_interval = heartbeat_interval
        self.on_disconnect = on_disconnect
        self.calls = CallRegistry()
        #: why the connection ended (None while connected or never connected)
        self.disconnect_reason: str | None = None
        self._manager: _Manager | None = None
        self._lost: asyncio.Future[str] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._closing = False

    def __repr__(self) -> str:  # never the secret
        return f"AmiClient({self.where}, user={self.user!r}, connected={self.connected})"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._lost is not None and not self._lost.done()

    # -- connection --------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and log in; raises AmiConnectError / AmiAuthError / AmiTimeoutError."""
        if self.connected:
            return
        loop = asyncio.get_running_loop()
        self._closing = False
        self.disconnect_reason = None
        lost: asyncio.Future[str] = loop.create_future()
        self._lost = lost
        manager = _Manager(
            self._connection_lost,
            host=self.host,
            port=self.port,
            username=self.user,
            secret=self._secret,
            events=LOGIN_EVENTS,
            loop=loop,
            log=_panoramisk_log,
        )
        for pattern in ("Hangup", "DTMFEnd", "UserEvent", "Newchannel"):
            manager.register_event(pattern, self._on_event)
        self._manager = manager
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport, protocol = await loop.create_connection(
                    AMIProtocol,
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.tls_server_name if self.tls else None,
                )
        except ssl.SSLCertVerificationError as exc:
            self._fail_lost("certificate refused")
            raise AmiConnectError(
                f"the TLS certificate of Asterisk AMI at {self.where} does not verify "
                f"(asterisk.ami_tls_ca_file, asterisk.ami_tls_server_name): "
                f"{exc.verify_message or exc.reason}"
            ) from exc
        except ssl.SSLError as exc:
            self._fail_lost("TLS failed")
            raise AmiConnectError(
                f"TLS with Asterisk AMI at {self.where} failed ({exc.reason or exc}); is "
                "asterisk.ami_port the TLS port (manager.conf tlsbindaddr)?"
            ) from exc
        except TimeoutError:
            self._fail_lost("connect timeout")
            raise AmiTimeoutError(
                f"no answer from Asterisk AMI at {self.where} within {self.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            self._fail_lost("connect failed")
            reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else None
            raise AmiConnectError(
                f"cannot reach Asterisk AMI at {self.where}: {reason or exc.strerror or exc}"
            ) from exc

        # hand the connected protocol to panoramisk: it wires it up and sends Login
        done: asyncio.Future[tuple[object, object]] = loop.create_future()
        done.set_result((transport, protocol))
        manager.connection_made(done)
        login = manager.authenticated_future
        finished, _ = await asyncio.wait(
            {login, lost}, timeout=self.connect_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if login in finished:
            response = login.result()
            if not response.success:
                await self._shutdown("login refused")
                raise AmiAuthError(
                    f"AMI login refused for user '{self.user}' (check asterisk.ami_secret_file)"
                )
        else:
            await self._shutdown("no login answer")
            if lost in finished:
                raise AmiConnectError(
                    f"Asterisk AMI at {self.where} closed the connection during login"
                )
            raise AmiTimeoutError(
                f"Asterisk AMI at {self.where} did not answer the login within "
                f"{self.connect_timeout:g} s"
            )
        if self.heartbeat_interval > 0:
            self._heartbeat = asyncio.create_task(self._beat())
        log.info("ami.connected", host=self.host, port=self.port, user=self.user)

    async def close(self) -> None:
        """Log off and close; pending actions fail with AmiTimeoutError."""
        await self._shutdown("closed by the engine")

    async def __aenter__(self) -> AmiClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _shutdown(self, reason: str) -> None:
        self._closing = True
        self._fail_lost(reason)
        if self._heartbeat is not None and self._heartbeat is not asyncio.current_task():
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        self._heartbeat = None
        if self._manager is not None:
            self._manager.close()
            self._manager.awaiting_actions.clear()

    def _fail_lost(self, reason: str) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)
            self.disconnect_reason = reason

    def _connection_lost(self, exc: object, why: str | None = None) -> None:
        """panoramisk's protocol lost the socket (or Asterisk sent Shutdown)."""
        if self._closing or not self.connected:
            self._fail_lost("closed")
            return
        reason = why or ("Asterisk shut down" if isinstance(exc, Mapping) else "connection lost")
        self._fail_lost(reason)
        log.warning("ami.connection_lost", host=self.host, port=self.port, reason=reason)
        if self.on_disconnect is not None:
            try:
                self.on_disconnect(reason)
            except Exception:
                log.exception("ami.on_disconnect_failed")

    def _abandon(self, why: str) -> None:
        """Give up this session (Asterisk is going away): surfaced like a lost socket."""
        if self.connected and self._manager is not None:
            self._connection_lost(None, why)
            self._manager.close()

    async def _beat(self) -> None:
        """A stalled (not closed) connection is only noticed by asking."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            if not self.connected:
                return
            try:
                await self.send_action({"Action": "Ping"})
            except AmiTimeoutError:
                if self.connected and self._manager is not None:
                    log.warning("ami.heartbeat_failed", host=self.host, port=self.port)
                    self._connection_lost(None)
                    self._manager.close()
                return

    # -- actions -------------------------------------------------------------------

    async def send_action(
        self, headers: Mapping[str, str | list[str]], wait: float | None = None
    ) -> Any:
        """Send one action; its Response (or list of messages for multi-part ones).

        Raises AmiTimeoutError when not connected, when the connection drops
        before the answer, or when no answer comes within ``timeout``
        (``wait`` seconds, default ``action_timeout``).
        """
        name = str(headers.get("Action", "?"))
        lost = self._lost
        manager = self._manager
        if lost is None or lost.done() or manager is None:
            raise AmiNotSentError(
                f"AMI action {name} not sent: not connected to Asterisk AMI at {self.where}"
            )
        action = Action(dict(headers))
        future = manager.send_action(action)
        limit = self.action_timeout if wait is None else wait
        done, _ = await asyncio.wait(
            {future, lost}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
        )
        if future in done:
            return future.result()
        future.cancel()
        if manager.protocol is not None:
            manager.protocol.responses.pop(action.id, None)
        with contextlib.suppress(ValueError):
            manager.awaiting_actions.remove(action)
        if lost in done:
            raise AmiTimeoutError(
                f"connection to Asterisk AMI at {self.where} ended while waiting for {name}"
                f" ({lost.result()})"
            )
        raise AmiTimeoutError(f"Asterisk AMI gave no answer to {name} within {limit:g} s")

    async def ping(self) -> None:
        await self.send_action({"Action": "Ping"})

    async def originate(
        self,
        call_id: str,
        channel: str,
        context: str,
        exten: str,
        priority: int,
        caller_id: str,
        variables: Mapping[str, str],
        timeout_s: float,
    ) -> OriginateResult:
        """Place one call (Async Originate) and wait for its OriginateResponse.

        The call is registered in :attr:`calls` *before* the action is sent.
        Returns when the ";1" channel is answered (``Success``) or has failed;
        waits at most ``timeout_s + action_timeout``.
        """
        _check_call_id(call_id)
        for name, value in variables.items():
            # Asterisk splits a Variable header on commas (manager.c)
            if any(ch in f"{name}{value}" for ch in ",\r\n") or "=" in name:
                raise TelephonyError(
                    f"AMI variable {name!r} has a comma, '=' or line break; Asterisk cannot "
                    "carry it"
                )
        if any(ch in caller_id for ch in "\r\n"):
            raise TelephonyError("caller ID contains a line break")
        if any(ch in channel for ch in "\r\n"):
            # the dial string is the Channel header itself (direct originate)
            raise TelephonyError("the channel to originate contains a line break")
        events = self.calls.register(call_id)
        action: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
            "Async": "true",
            "Timeout": str(int(timeout_s * 1000)),
            "CallerID": caller_id,
            "ChannelId": call_id,
            "OtherChannelId": events.leg2_id,
            "Variable": [f"{k}={v}" for k, v in variables.items()],
        }
        reply = await self.send_action(action, wait=timeout_s + self.action_timeout)
        messages = reply if isinstance(reply, list) else [reply]
        final = messages[-1]
        raw = {str(k): _header(final, str(k)) for k in final}
        if len(messages) == 1 and not final.success:
            message = _header(final, "Message")
            if "shutting down" in message.lower():
                # manager.c refuses actions once Asterisk began to stop; it hangs up
                # every call, then says Shutdown: treat the session as gone now
                self._abandon("Asterisk is shutting down")
                raise AmiNotSentError(f"Asterisk refused the Originate: {message}")
            # refused outright (permission, unknown context): no channel will exist
            result = OriginateResult("Error", None, None, MappingProxyType(raw))
            events.originate = result
            events.finished.set()
            return result
        if _header(final, "Event") != "OriginateResponse":
            # panoramisk resolves an Async Originate only with the OriginateResponse;
            # anything else means it stopped waiting early (a changed Asterisk message)
            raise TelephonyError(
                f"AMI Originate for call {call_id} ended without an OriginateResponse"
            )
        result = OriginateResult(
            response=_header(final, "Response") or "Failure",
            reason=parse_cause(_header(final, "Reason")),
            uniqueid=_header(final, "Uniqueid") or None,
            raw=MappingProxyType(raw),
        )
        events.originate = result
        if result.uniqueid == call_id:  # a manager.conf without the Newchannel filter
            events.learn_channel(_header(final, "Channel"))
        return result

    async def hangup_call(self, call_id: str, cause: int = 16) -> bool:
        """Hang up a call's ";1" channel by its id; False if it no longer exists."""
        _check_call_id(call_id)
        reply = await self.send_action(
            {"Action": "Hangup", "Channel": call_id, "Cause": str(cause)}
        )
        return bool(reply.success)

    # -- events ----------------------------------------------------------------------

    def _on_event(self, manager: object, event: Mapping[str, Any]) -> None:
        self.calls.dispatch(event)


def _check_call_id(call_id: str) -> None:
    if not call_id or len(call_id) > MAX_CALL_ID or not _CALL_ID.fullmatch(call_id):
        raise TelephonyError(
            f"call id {call_id!r} must be 1-{MAX_CALL_ID} characters of A-Z a-z 0-9 . _ : @ -"
        )
