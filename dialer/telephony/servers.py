"""Several Asterisk servers: one AMI link each, calls spread by free capacity.

A district with more than one PBX lists them as ``[[asterisk.servers]]``
(settings.py); a plain ``[asterisk]`` section is a pool of one. Rules:

1. A call goes to the server with the most free channels
   (``max_channels`` minus its calls in flight); a tie goes to the first
   listed. A server whose AMI link is down has no free channels.
2. When a server's AMI link is lost, it leaves the rotation at once; the pool
   tells ``on_lost`` (the engine interrupts that server's calls in flight:
   they died with it, contract 1: ``interrupted-by-pbx``) and reconnects in the
   background with a growing pause (1, 2, 4 ... 30 s, logged). It rejoins the
   rotation once the login succeeds again and ``on_back`` has run (the engine
   hangs up, by their channel ids, the calls it gave up on: a link lost to a
   hung Asterisk or a broken route may come back with those calls still up,
   and nobody may get a second call from us while the first still rings).
3. At start every server is tried once. A refused login is a settings error
   and stops the start (exit 7, naming the server). A server that cannot be
   reached is logged and retried in the background while the others carry the
   calls; only when none can be reached does the start fail.

:func:`pick` is the pure choice (rule 1); :class:`ServerPool` the asyncio shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from dialer.errors import AmiAuthError, AmiNotSentError, TelephonyError
from dialer.settings import AsteriskServer, Settings
from dialer.telephony.ami import AmiClient, client_for

__all__ = ["RECONNECT_PAUSES", "ServerLink", "ServerPool", "pick"]

log = structlog.get_logger(__name__)

#: pauses before each reconnection try; the last one repeats (rule 2)
RECONNECT_PAUSES: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


class Capacity(Protocol):
    @property
    def up(self) -> bool: ...

    @property
    def free(self) -> int: ...


def pick(links: Sequence[Capacity]) -> int | None:
    """Rule 1: the index of the up link with the most free channels; None if all are
    full or down."""
    best: int | None = None
    for index, link in enumerate(links):
        if link.up and link.free > 0 and (best is None or link.free > links[best].free):
            best = index
    return best


@dataclass(eq=False)
class ServerLink:
    """One Asterisk server: its settings, its AMI client and its calls in flight."""

    server: AsteriskServer
    ami: AmiClient
    active: int = 0
    #: successful logins after a loss (rule 2), for /metrics
    reconnects: int = 0
    last_error: str | None = None
    #: logged in again, but ``on_back`` has not finished yet: not in the rotation
    settling: bool = False

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def up(self) -> bool:
        return self.ami.connected and not self.settling

    @property
    def free(self) -> int:
        return self.server.max_channels - self.active if self.up else 0

    def state(self) -> dict[str, Any]:
        """For /healthz and /metrics."""
        return {
            "server": self.name,
            "ami": self.server.where,
            "ok": self.up,
            "active_calls": self.active,
            "max_channels": self.server.max_channels,
            "reconnects": self.reconnects,
            **({} if self.up else {"error": self.last_error or "not connected"}),
        }


LostHandler = Callable[[ServerLink, str], None]
BackHandler = Callable[[ServerLink], Awaitable[None]]


class ServerPool:
    def __init__(
        self,
        settings: Settings,
        *,
        on_lost: LostHandler | None = None,
        on_back: BackHandler | None = None,
        pauses: Sequence[float] = RECONNECT_PAUSES,
    ) -> None:
        self.on_lost = on_lost
        self.on_back = on_back
        self.pauses = tuple(pauses)
        links = []
        for server in settings.asterisk_servers:
            ami = client_for(
                server,
                settings.server_secret(server),
                connect_timeout=settings.asterisk.connect_timeout,
                action_timeout=settings.asterisk.action_timeout,
                heartbeat_interval=settings.asterisk.heartbeat_seconds,
            )
            link = ServerLink(server, ami)
            ami.on_disconnect = functools.partial(self._lost, link)
            links.append(link)
        self.links: tuple[ServerLink, ...] = tuple(links)
        self._changed = asyncio.Event()
        self._reconnecting: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    @property
    def connected(self) -> bool:
        """At least one server can take calls."""
        return any(link.up for link in self.links)

    def states(self) -> list[dict[str, Any]]:
        return [link.state() for link in self.links]

    # -- start and stop ---------------------------------------------------------

    async def start(self) -> None:
        """Rule 3: connect every server; fail only on a refused login or none reachable."""
        self._closing = False
        results = await asyncio.gather(
            *(link.ami.connect() for link in self.links), return_exceptions=True
        )
        failures: list[tuple[ServerLink, Exception]] = []
        for link, result in zip(self.links, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    await self.close()
                    raise result  # cancelled, KeyboardInterrupt: not ours to judge
                link.last_error = str(result)
                failures.append((link, result))
        for link, error in failures:
            if isinstance(error, AmiAuthError) or not isinstance(error, TelephonyError):
                await self.close()
                raise self._named(link, error)
        if len(failures) == len(self.links):
            await self.close()
            link, error = failures[0]
            raise self._named(link, error)
        for link, error in failures:
            log.warning(
                "asterisk.server_unreachable",
                server=link.name,
                ami=link.server.where,
                error=str(error),
                detail="retrying in the background; the other servers carry the calls",
            )
            self._reconnect_later(link)
        self._changed.set()

    def _named(self, link: ServerLink, error: Exception) -> Exception:
        """Name the server when there are several (one server: today's message)."""
        if len(self.links) == 1 or not isinstance(error, TelephonyError):
            return error
        named = type(error)(f"Asterisk server {link.name!r}: {error}")
        named.__cause__ = error
        return named

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._reconnecting.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._reconnecting.clear()
        await asyncio.gather(*(link.ami.close() for link in self.links))
        self._changed.set()

    # -- choosing a server ---------------------------------------------------------

    async def acquire(self) -> ServerLink:
        """Rule 1: a channel on the server with the most free ones (waits while none)."""
        while True:
            index = pick(self.links)
            if index is not None:
                link = self.links[index]
                link.active += 1
                return link
            self._changed.clear()
            await self._changed.wait()

    async def claim(self) -> ServerLink | None:
        """Like :meth:`acquire`, but None at once when no server is connected (the
        caller records the call as not placed instead of holding it indefinitely)."""
        while True:
            index = pick(self.links)
            if index is not None:
                link = self.links[index]
                link.active += 1
                return link
            if not self.connected:
                return None
            self._changed.clear()
            await self._changed.wait()

    async def wait_connected(self, within: float | None = None) -> bool:
        """Wait until at least one server can take calls; False after ``within`` s."""
        try:
            async with asyncio.timeout(within):
                while not self.connected:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return self.connected
        return True

    def release(self, link: ServerLink) -> None:
        link.active = max(0, link.active - 1)
        self._changed.set()

    async def hangup_call(self, call_id: str, cause: int = 16) -> bool:
        """Hang up a call by its channel id on every connected server (start-up
        recovery does not know which one placed it); True if one still had it.

        Raises AmiNotSentError when no server is connected: whether the call is
        still live cannot be known then, and recovery must not redial it.
        """
        up = [link for link in self.links if link.ami.connected]
        if not up:
            raise AmiNotSentError(
                f"Hangup of call {call_id} not sent: no Asterisk server is connected"
            )
        found = [await link.ami.hangup_call(call_id, cause) for link in up]
        return any(found)

    # -- losing and regaining a server ------------------------------------------------

    def _lost(self, link: ServerLink, reason: str) -> None:
        """Rule 2: out of the rotation at once; its calls are told; reconnect later."""
        link.last_error = reason
        link.settling = True
        log.warning(
            "asterisk.server_lost",
            server=link.name,
            ami=link.server.where,
            reason=reason,
            calls_in_flight=link.active,
        )
        self._changed.set()
        if self.on_lost is not None:
            try:
                self.on_lost(link, reason)
            except Exception:
                log.exception("asterisk.on_lost_failed", server=link.name)
        self._reconnect_later(link)

    def _reconnect_later(self, link: ServerLink) -> None:
        if self._closing or link.name in self._reconnecting:
            return
        task = asyncio.get_running_loop().create_task(self._reconnect(link))
        self._reconnecting[link.name] = task
        task.add_done_callback(lambda _t: self._reconnecting.pop(link.name, None))

    async def _reconnect(self, link: ServerLink) -> None:
        tries = 0
        while not self._closing and not link.up:
            pause = self.pauses[min(tries, len(self.pauses) - 1)]
            tries += 1
            await asyncio.sleep(pause)
            try:
                await link.ami.connect()
            except TelephonyError as exc:
                link.last_error = str(exc)
                log.info(
                    "asterisk.reconnect_failed",
                    server=link.name,
                    attempt=tries,
                    error=str(exc),
                    next_try_s=self.pauses[min(tries, len(self.pauses) - 1)],
                )
                continue
            link.reconnects += 1
            link.last_error = None
            log.info("asterisk.server_back", server=link.name, attempts=tries)
            if self.on_back is not None:
                try:
                    await self.on_back(link)
                except Exception:
                    log.exception("asterisk.on_back_failed", server=link.name)
            link.settling = False
            self._changed.set()
