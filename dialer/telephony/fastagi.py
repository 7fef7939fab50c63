"""Our own small FastAGI server on asyncio streams.

Why not panoramisk's ``fast_agi``: a connection that closes without sending
headers makes its header loop spin and freezes the event loop, and after
Asterisk's unsolicited ``HANGUP`` line its replies shift by one (DESIGN.md,
"AMI and AGI facts"). The protocol itself lives in :mod:`agi_protocol`; this
module is the thin I/O shell around it.

Shape (aiosmtpd style): :class:`FastAgiServer` owns the socket and the
protocol; *handlers* hold the business logic. A handler is
``async def handler(session: AgiSession) -> None`` registered under the route
name Asterisk asks for (``AGI(agi://host:4573/<route>,args)``).

Guarantees:

- at most ``max_sessions`` connections at once (default: the engine's
  ``max_concurrent`` plus headroom, :func:`session_cap`); past the cap a new
  connection is closed at once, calls in progress are unaffected, and one
  warning is logged per burst, not one per connection (issue 8 item 1: 245
  idle connections once exhausted the file descriptors and wrote ~75 MB of
  accept errors);
- a connection that sends no header (a port probe), garbage, or stalls is
  closed after ``header_timeout``; an environment block larger than
  ``MAX_ENV_BYTES`` is refused while it is read;
- a peer that goes silent after its header is dropped after
  ``quick_reply_timeout`` on any command Asterisk answers at once (ANSWER,
  GET VARIABLE, HANGUP ...); only commands that play or wait for audio get
  the long ``command_timeout``;
- a reply that arrives when no command was sent, or that cannot be parsed
  (a ``result=`` of thousands of digits), is a protocol error that ends that
  session, never a queued answer or a dead reader task;
- each session has one background reader: replies are queued in order and
  ``HANGUP`` lines only set :attr:`AgiSession.hung_up`, so the reply to the
  command in flight is never mistaken for another command's;
- after ``HANGUP`` (or 511, or the socket closing) every further command
  raises :class:`CallHungUp`; the handler's ``finally`` still runs, so store
  work (committing a keypad revocation, C10) is never skipped;
- a handler's exception is logged and ends only that session;
- log lines carry the route and call id, never the caller's number (C18).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog

from dialer.errors import AgiServerError
from dialer.settings import DEFAULT_AGI_PORT
from dialer.telephony.agi_protocol import (
    MAX_ENV_BYTES,
    MAX_ENV_LINES,
    AgiEnvironment,
    AgiProtocolError,
    AgiReply,
    HangupNotice,
    ReplyAssembler,
    build_command,
    environment_from_pairs,
    parse_env_line,
)

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_QUICK_REPLY_TIMEOUT",
    "AgiSession",
    "CallHungUp",
    "FastAgiServer",
    "GetDataResult",
    "Handler",
    "StreamResult",
    "session_cap",
]

log = structlog.get_logger(__name__)

#: Asterisk writes the whole environment block as soon as it has connected
DEFAULT_HEADER_TIMEOUT = 3.0
#: STREAM FILE blocks until the prompt ends; recordings may be 300 s long
#: (AudioSettings.max_seconds), so a reply may legitimately take that long
DEFAULT_COMMAND_TIMEOUT = 330.0
#: every other command is answered at once by res_agi (ANSWER, GET/SET VARIABLE,
#: HANGUP, VERBOSE): a peer silent for this long is not a working Asterisk
DEFAULT_QUICK_REPLY_TIMEOUT = 5.0
#: commands whose reply comes only after audio played or a caller pressed keys
_SLOW_VERBS = frozenset(
    {
        "STREAM FILE",
        "CONTROL STREAM FILE",
        "GET OPTION",
        "GET DATA",
        "WAIT FOR DIGIT",
        "SAY DIGITS",
        "SAY NUMBER",
        "SAY ALPHA",
        "SAY PHONETIC",
        "SAY DATE",
        "SAY TIME",
        "SAY DATETIME",
        "EXEC",
        "RECORD FILE",
        "RECEIVE CHAR",
        "RECEIVE TEXT",
        "SPEECH RECOGNIZE",
    }
)
#: longest line we accept from Asterisk (an environment value, a 520 usage line)
MAX_LINE_BYTES = 16 * 1024
#: sessions allowed when no engine settings say otherwise (tests, doctor)
DEFAULT_MAX_SESSIONS = 100

#: listen() backlog (the kernel caps it at net.core.somaxconn)
ACCEPT_BACKLOG = 1024


def session_cap(max_concurrent: int) -> int:
    """FastAGI sessions to allow for an engine placing ``max_concurrent`` calls.

    One session per answered call, plus headroom for a session still closing
    while the next call on its slot is answered (a quarter, at least 10).
    """
    return max_concurrent + max(10, max_concurrent // 4)


class CallHungUp(Exception):
    """The channel is gone: HANGUP line, 511 reply, result -1 or the socket closed.

    Deliberately not a :class:`~dialer.errors.DialerError`: it is control flow
    inside a handler, raised through the handler's ``finally`` and caught by
    the server, never shown to a user.
    """


Handler = Callable[["AgiSession"], Awaitable[None]]


@dataclass(frozen=True)
class StreamResult:
    """Outcome of STREAM FILE / GET OPTION: the escape digit pressed, if any."""

    digit: str | None
    endpos: int


@dataclass(frozen=True)
class GetDataResult:
    """Outcome of GET DATA: the digits typed and whether input timed out."""

    digits: str
    timed_out: bool


class _Eof:
    """Reader sentinel: Asterisk closed the connection."""


_EOF = _Eof()
_ReplyItem = AgiReply | _Eof | AgiProtocolError


class AgiSession:
    """One FastAGI connection, as the handler sees it.

    Commands are serialised: concurrent calls wait for each other, because the
    protocol pairs replies with commands purely by order.
    """

    def __init__(
        self,
        env: AgiEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        quick_reply_timeout: float = DEFAULT_QUICK_REPLY_TIMEOUT,
    ) -> None:
        self.env = env
        self._reader = reader
        self._writer = writer
        self._command_timeout = command_timeout
        self._quick_timeout = min(quick_reply_timeout, command_timeout)
        self._replies: asyncio.Queue[_ReplyItem] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._hung_up = False
        self._closed = False
        #: a command was sent and its reply has not come yet
        self._awaiting = False
        #: the protocol broke (a reply nobody asked for, an unreadable line)
        self._failure: AgiProtocolError | None = None
        self.hangup_event = asyncio.Event()
        self._reader_task: asyncio.Task[None] | None = None

    # -- lifecycle (driven by the server) -----------------------------------

    def _start(self) -> None:
        self._reader_task = asyncio.create_task(self._read_loop())

    async def _close(self) -> None:
        self._closed = True
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        await _close_writer(self._writer)

    async def _read_loop(self) -> None:
        assembler = ReplyAssembler()
        while True:
            try:
                line = await self._reader.readline()
            except (ConnectionError, OSError):
                line = b""
            except ValueError:  # line longer than the stream limit
                self._break(AgiProtocolError("AGI reply line too long"))
                return
            if not line:
                self._mark_hung_up()
                self._replies.put_nowait(_EOF)
                return
            try:
                item = assembler.feed(line)
            except AgiProtocolError as exc:
                self._break(exc)
                return
            except Exception as exc:  # the reader must never die silently
                self._break(AgiProtocolError(f"unreadable AGI reply: {exc}"))
                return
            if isinstance(item, HangupNotice):
                self._mark_hung_up()
            elif item is not None:
                if not self._awaiting:
                    # Asterisk answers commands, it never volunteers a reply: a
                    # queued one would be taken as the answer to the next command
                    self._break(AgiProtocolError("AGI reply received before any command was sent"))
                    return
                self._awaiting = False
                self._replies.put_nowait(item)

    def _break(self, error: AgiProtocolError) -> None:
        """A protocol error ends the session: pairing of commands and replies is lost."""
        if self._failure is None:
            self._failure = error
            log.warning("fastagi.protocol_error", error=str(error))
        self._replies.put_nowait(error)
        self._mark_hung_up()
        self._writer.close()

    def _mark_hung_up(self) -> None:
        if not self._hung_up:
            self._hung_up = True
            self.hangup_event.set()

    # -- low level ------------------------------------------------------------

    @property
    def failure(self) -> AgiProtocolError | None:
        """The protocol error that ended this session, if one did."""
        return self._failure

    @property
    def hung_up(self) -> bool:
        """True once Asterisk said HANGUP, replied 511, or closed the socket."""
        return self._hung_up

    async def command(self, verb: str, *args: str | int) -> AgiReply:
        """Send one command and return its 200 reply.

        Raises :class:`CallHungUp` if the channel is already gone or the reply
        is 511 / end of stream, :class:`AgiProtocolError` for 510/520/503 (a
        bug on our side) or when no reply comes within ``command_timeout``
        (the session is then unusable and closed, since pairing is lost).
        """
        line = build_command(verb, *args)
        timeout = self._command_timeout if verb.upper() in _SLOW_VERBS else self._quick_timeout
        async with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._closed:
                raise CallHungUp(f"AGI session closed before {verb}")
            if self._hung_up:
                raise CallHungUp(f"channel hung up before {verb}")
            self._awaiting = True
            try:
                self._writer.write(line.encode("utf-8") + b"\n")
                await asyncio.wait_for(self._writer.drain(), timeout)
            except (ConnectionError, OSError, TimeoutError) as exc:
                self._mark_hung_up()
                raise CallHungUp(f"AGI connection lost while sending {verb}") from exc
            try:
                item = await asyncio.wait_for(self._replies.get(), timeout)
            except TimeoutError:
                self._closed = True
                self._mark_hung_up()
                self._writer.close()
                raise AgiProtocolError(f"no reply to AGI {verb} within {timeout:g} s") from None
        if isinstance(item, _Eof):
            raise CallHungUp(f"Asterisk closed the AGI connection during {verb}")
        if isinstance(item, AgiProtocolError):
            raise item
        if item.code == 511:
            self._mark_hung_up()
            raise CallHungUp(f"channel hung up ({verb}: 511 dead channel)")
        if item.code != 200:
            raise AgiProtocolError(
                f"Asterisk refused AGI {verb}: {item.code} {item.message}".rstrip()
            )
        return item

    # -- the commands the dialer uses ----------------------------------------

    async def answer(self) -> None:
        reply = await self.command("ANSWER")
        if reply.result == -1:
            raise CallHungUp("ANSWER failed: channel gone")

    async def stream_file(
        self, name: str, escape_digits: str = "", offset: int | None = None
    ) -> StreamResult:
        """Play a sound file (no extension); stop early on an escape digit.

        Unlike ``Playback()``, STREAM FILE reports the key that interrupted it
        (DESIGN.md: Playback swallows DTMF), which is how keypad 9 is caught
        during any prompt (C10).
        """
        args: list[str | int] = [name, escape_digits]
        if offset is not None:
            args.append(offset)
        return self._stream_result("STREAM FILE", await self.command("STREAM FILE", *args))

    async def get_option(
        self, name: str, escape_digits: str = "", timeout_ms: int | None = None
    ) -> StreamResult:
        """STREAM FILE, then wait ``timeout_ms`` for a digit (res_agi: milliseconds)."""
        args: list[str | int] = [name, escape_digits]
        if timeout_ms is not None:
            args.append(timeout_ms)
        return self._stream_result("GET OPTION", await self.command("GET OPTION", *args))

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """Wait for one key (``-1``: forever); ``None`` on timeout."""
        reply = await self.command("WAIT FOR DIGIT", timeout_ms)
        return self._digit("WAIT FOR DIGIT", reply.result)

    async def get_data(
        self, name: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> GetDataResult:
        """Play a prompt and collect up to ``max_digits`` keys (ends on ``#``)."""
        args: list[str | int] = [name]
        if timeout_ms is not None or max_digits is not None:
            args.append(timeout_ms if timeout_ms is not None else 0)
        if max_digits is not None:
            args.append(max_digits)
        reply = await self.command("GET DATA", *args)
        if reply.result_text == "-1":
            raise CallHungUp("GET DATA failed: channel gone")
        return GetDataResult(digits=reply.result_text, timed_out=reply.data == "timeout")

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        reply = await self.command("SAY DIGITS", digits, escape_digits)
        return self._digit("SAY DIGITS", reply.result)

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        reply = await self.command("SAY NUMBER", number, escape_digits)
        return self._digit("SAY NUMBER", reply.result)

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        """A channel variable or function (``CHANNEL(state)``); ``None`` if unset."""
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == 1 else None

    async def exec_(self, app: str, args: str = "") -> int:
        """Run a dialplan application; returns its result code."""
        reply = await (self.command("EXEC", app, args) if args else self.command("EXEC", app))
        if reply.result == -2:
            raise AgiProtocolError(f"Asterisk has no dialplan application {app!r}")
        return reply.result if reply.result is not None else 0

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, level)

    async def hangup(self) -> None:
        """Hang up the channel; a no-op when it is already gone."""
        if self._hung_up or self._closed:
            return
        with contextlib.suppress(CallHungUp):
            await self.command("HANGUP")
        self._mark_hung_up()

    # -- helpers ---------------------------------------------------------------

    def _stream_result(self, verb: str, reply: AgiReply) -> StreamResult:
        # result: 0 = played to the end, >0 = ASCII of the escape digit, -1 = the
        # channel hung up or the file could not be played (res_agi.c handle_streamfile)
        digit = self._digit(verb, reply.result)
        return StreamResult(digit=digit, endpos=reply.endpos or 0)

    @staticmethod
    def _digit(verb: str, result: int | None) -> str | None:
        if result is None:
            raise AgiProtocolError(f"AGI {verb} reply has no result")
        if result < 0:
            raise CallHungUp(f"{verb} failed (result {result}): channel gone or file missing")
        if result == 0:
            return None
        if result > 127:
            raise AgiProtocolError(f"AGI {verb} returned a non-ASCII key code {result}")
        return chr(result)


class FastAgiServer:
    """Listens for Asterisk's FastAGI connections and runs the route's handler."""

    def __init__(
        self,
        routes: Mapping[str, Handler],
        host: str = "127.0.0.1",
        port: int = DEFAULT_AGI_PORT,
        *,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        quick_reply_timeout: float = DEFAULT_QUICK_REPLY_TIMEOUT,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        if max_sessions < 1:
            raise AgiServerError(f"FastAGI max_sessions must be at least 1, got {max_sessions}")
        self.routes = dict(routes)
        self.host = host
        self.port = port
        self.header_timeout = header_timeout
        self.command_timeout = command_timeout
        self.quick_reply_timeout = quick_reply_timeout
        self.max_sessions = max_sessions
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        #: counters for health checks and tests
        self.sessions_started = 0
        self.sessions_rejected = 0
        #: connections closed at once because ``max_sessions`` were open
        self.sessions_refused = 0
        #: refusals in the current burst (0: no burst going on)
        self._burst_refused = 0

    @property
    def bound_port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            raise AgiServerError("FastAGI server is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def active_sessions(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        _ensure_file_descriptors(self.max_sessions)
        where = f"{self.host}:{self.port}"
        try:
            # A deep accept queue: in a burst past the cap, connections waiting in a
            # full queue (asyncio's default is 100) have their SYN dropped and retried
            # a second later, so they would hang instead of being closed at once.
            self._server = await asyncio.start_server(
                self._on_connect,
                self.host,
                self.port,
                limit=MAX_LINE_BYTES,
                backlog=ACCEPT_BACKLOG,
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                msg = f"FastAGI port {where} is already in use"
            elif exc.errno == errno.EACCES:
                msg = f"no permission to listen on FastAGI port {where}"
            elif exc.errno == errno.EADDRNOTAVAIL:
                msg = f"FastAGI address {where} is not an address of this machine"
            else:
                msg = f"cannot listen on FastAGI port {where}: {exc.strerror or exc}"
            raise AgiServerError(msg) from exc
        log.info(
            "fastagi.listening",
            host=self.host,
            port=self.bound_port,
            max_sessions=self.max_sessions,
        )

    async def stop(self) -> None:
        """Stop listening and cancel every running session."""
        self._end_burst()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- per connection --------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= self.max_sessions:
            self._refuse(writer)
            return
        self._end_burst()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            raise
        except Exception:  # never let one connection take anything else down
            log.exception("fastagi.session_crashed")
        finally:
            if task is not None:
                self._tasks.discard(task)

    def _refuse(self, writer: asyncio.StreamWriter) -> None:
        """Past the cap: close at once (RST, no lingering socket), warn once per burst."""
        self.sessions_refused += 1
        if self._burst_refused == 0:
            log.warning(
                "fastagi.session_cap_reached",
                max_sessions=self.max_sessions,
                hint="new FastAGI connections are closed until sessions end; calls in "
                "progress are unaffected (raise agi.max_sessions if Asterisk needs more)",
            )
        self._burst_refused += 1
        transport = writer.transport
        transport.abort()

    def _end_burst(self) -> None:
        if self._burst_refused:
            log.warning("fastagi.session_cap_burst_over", refused=self._burst_refused)
            self._burst_refused = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        try:
            async with asyncio.timeout(self.header_timeout):
                env = await _read_environment(reader)
        except TimeoutError:
            self.sessions_rejected += 1
            log.warning("fastagi.header_timeout", peer=peer, timeout=self.header_timeout)
            await _close_writer(writer)
            return
        except AgiProtocolError as exc:
            self.sessions_rejected += 1
            log.warning("fastagi.bad_header", peer=peer, error=str(exc))
            await _close_writer(writer)
            return
        if env is None:  # connected and closed: a port probe or health check
            log.debug("fastagi.probe", peer=peer)
            await _close_writer(writer)
            return

        self.sessions_started += 1
        session = AgiSession(env, reader, writer, self.command_timeout, self.quick_reply_timeout)
        session._start()
        route = env.network_script
        with structlog.contextvars.bound_contextvars(call_id=env.call_id, agi_route=route):
            try:
                handler = self.routes.get(route)
                if handler is None:
                    log.warning("fastagi.unknown_route", known=sorted(self.routes))
                    await _quiet(session.hangup())
                    return
                log.debug("fastagi.session_start")
                await handler(session)
                log.debug("fastagi.session_end", hung_up=session.hung_up)
            except CallHungUp as exc:
                log.info("fastagi.call_hung_up", detail=str(exc))
            except AgiProtocolError as exc:
                if session.failure is not exc:  # a broken session logged it already
                    log.warning("fastagi.protocol_error", error=str(exc))
            except Exception:
                log.exception("fastagi.handler_failed")
            finally:
                await session._close()


async def _read_environment(reader: asyncio.StreamReader) -> AgiEnvironment | None:
    """Read the ``agi_*`` block; ``None`` when the peer closed before sending anything."""
    pairs: list[tuple[str, str]] = []
    size = 0
    while True:
        try:
            line = await reader.readline()
        except ValueError as exc:  # longer than the stream limit
            raise AgiProtocolError("AGI environment line too long") from exc
        except (ConnectionError, OSError):
            line = b""
        if not line or not line.endswith(b"\n"):
            if not pairs and not line.strip():
                return None
            raise AgiProtocolError("connection closed inside the AGI environment block")
        size += len(line)
        if size > MAX_ENV_BYTES:
            raise AgiProtocolError(f"AGI environment is larger than {MAX_ENV_BYTES} bytes")
        pair = parse_env_line(line)
        if pair is None:
            if not pairs:
                raise AgiProtocolError("empty AGI environment block")
            return environment_from_pairs(pairs)
        pairs.append(pair)
        if len(pairs) > MAX_ENV_LINES:
            raise AgiProtocolError(f"AGI environment has more than {MAX_ENV_LINES} lines")


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 2.0)


async def _quiet(aw: Awaitable[None]) -> None:
    with contextlib.suppress(CallHungUp, AgiProtocolError, TimeoutError):
        await aw


def _ensure_file_descriptors(max_sessions: int) -> None:
    """Raise the soft open-files limit so ``max_sessions`` can never exhaust it.

    Each session is one socket; the store, AMI, logs and the HTTP server need
    their own. When the hard limit is too low, say so once instead of failing
    with EMFILE under load.
    """
    needed = 2 * max_sessions + 256
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < needed:
            target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
            if target > soft:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
        if soft != resource.RLIM_INFINITY and soft < needed:
            log.warning(
                "fastagi.few_file_descriptors",
                limit=soft,
                needed=needed,
                hint="raise LimitNOFILE (systemd) or ulimit -n, or lower agi.max_sessions",
            )
    except (ValueError, OSError) as exc:  # pragma: no cover - platform without limits
        log.warning("fastagi.file_descriptor_limit_unknown", error=str(exc))


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
