"""Wire the engine together: store, AMI client, FastAGI server, runner.

``Engine`` is what ``dialer campaign run`` and ``dialer serve`` start. Start-up
fails fast and clearly (AMI unreachable or refusing our login, FastAGI port in
use) before a single call is gated or placed, then closes what a dead engine
left in flight (campaign/recovery.py).

Asterisk is reached through a :class:`~dialer.telephony.servers.ServerPool`
(one AMI link per ``[[asterisk.servers]]`` entry, or the one ``[asterisk]``):
a lost link interrupts that server's calls in flight (``interrupted-by-pbx``,
redialled), is reconnected with backoff, and on its return the calls given up
on are hung up by their channel ids before the server takes new ones.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import structlog

from dialer.campaign.attempt import NumberLocks
from dialer.campaign.broadcast import CallRegistry, broadcast_route
from dialer.campaign.callevents import Interrupt, InterruptKind
from dialer.campaign.messages import MessagePlanner
from dialer.campaign.progress import ProgressWriter
from dialer.campaign.recovery import Recovered, recover
from dialer.campaign.runner import CampaignRunner, Progress, RunSummary
from dialer.errors import TelephonyError
from dialer.recorder.route import Recorder, record_route
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.telephony.fastagi import FastAgiServer, session_cap
from dialer.telephony.servers import ServerLink, ServerPool

log = structlog.get_logger("dialer.engine")


class Engine:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.registry = CallRegistry()
        self.servers = ServerPool(settings, on_lost=self._pbx_lost, on_back=self._pbx_back)
        #: per server: the call ids given up on when its link was lost (see _pbx_back)
        self._abandoned: dict[str, set[str]] = {}
        self.agi = FastAgiServer(
            {
                "broadcast": broadcast_route(self.registry),
                # issue 14: the call-in recording line ([dialer-record], exten s)
                "record": record_route(Recorder(settings, store)),
            },
            settings.agi.host,
            settings.agi.port,
            max_sessions=settings.agi.max_sessions or session_cap(settings.engine.max_concurrent),
        )
        self.messages = MessagePlanner(settings, store)
        #: shared by every campaign this engine runs (serve may run several)
        self.progress = ProgressWriter(store)
        self.locks = NumberLocks()
        #: what the start-up recovery closed (campaign/recovery.py)
        self.recovered = Recovered()

    def _pbx_lost(self, link: ServerLink, reason: str) -> None:
        """A server's AMI is gone: its calls in flight died with it, or cannot be watched.

        Each call's machine records it as ``interrupted-by-pbx`` (unless the callee
        already heard the whole message or pressed 9/8); the server is out of the
        rotation until it is back (the runner waits while no server is up).
        """
        calls = [call for call in self.registry.calls() if call.ami is link.ami]
        if calls:
            log.warning(
                "asterisk went away; calls in flight interrupted",
                server=link.name,
                calls=len(calls),
                reason=reason,
            )
        self._abandoned.setdefault(link.name, set()).update(call.call_id for call in calls)
        for call in calls:
            call.feed(Interrupt(InterruptKind.PBX))

    async def _pbx_back(self, link: ServerLink) -> None:
        """Before a returning server takes calls: hang up what we gave up on there.

        A link lost to a hung Asterisk or a broken route (not a restart) comes back
        with those channels still up; their contacts are about to be redialled, and
        nobody may have two live calls from us (issue 13). Hangup by the ";1"
        channel's id (ChannelId at Originate); "no such channel" is the usual answer.
        """
        call_ids = self._abandoned.pop(link.name, set())
        still_up = 0
        for call_id in call_ids:
            try:
                if await link.ami.hangup_call(call_id):
                    still_up += 1
            except TelephonyError as exc:
                log.warning("hangup of an abandoned call failed", server=link.name, error=str(exc))
        if call_ids:
            log.info(
                "abandoned calls hung up on the returning server",
                server=link.name,
                calls=len(call_ids),
                still_up=still_up,
            )

    async def start(self) -> None:
        # C19: a store that fails its start-up integrity check is never dialled from
        await self.store.check_integrity()
        # the FastAGI port first: it fails instantly, AMI may take seconds
        await self.agi.start()
        try:
            await self.servers.start()
            # issue 13: calls a dead engine left in flight are hung up on Asterisk and
            # closed by how far they got, before this engine dials anything
            self.recovered = await recover(self.store, self.servers.hangup_call)
        except BaseException:
            await self.servers.close()
            await self.agi.stop()
            raise
        log.info(
            "engine ready",
            ami=", ".join(link.server.where for link in self.servers.links),
            agi=f"{self.settings.agi.host}:{self.agi.bound_port}",
        )

    async def stop(self) -> None:
        await self.agi.stop()
        await self.servers.close()
        await self.progress.close()

    def server_states(self) -> list[dict[str, Any]]:
        """Each Asterisk server's AMI link, for /healthz and /metrics."""
        return self.servers.states()

    def agi_state(self) -> dict[str, Any]:
        try:
            port: int | None = self.agi.bound_port
        except TelephonyError:
            port = None
        return {
            "ok": port is not None,
            "port": port,
            "active_sessions": self.agi.active_sessions,
            "sessions_started": self.agi.sessions_started,
            "max_sessions": self.agi.max_sessions,
            "sessions_refused": self.agi.sessions_refused,
        }

    async def run_campaign(
        self,
        name: str,
        progress: Progress | None = None,
        *,
        wait_for_window: bool = False,
        stop_dialing: asyncio.Event | None = None,
        hang_up: asyncio.Event | None = None,
        pbx_wait: float | None = None,
    ) -> RunSummary:
        """Run one campaign to its end, or until ``stop_dialing`` (no new calls; calls
        in progress finish) and ``hang_up`` (calls still in progress are hung up as
        ``interrupted-by-shutdown``). While no Asterisk server is up the run waits
        ``pbx_wait`` s for one (None: as long as it takes), then fails (exit 7)."""
        runner = CampaignRunner(
            self.store,
            self.settings,
            self.servers,
            self.registry,
            self.messages.plan,
            progress,
            wait_for_window=wait_for_window,
            stop_dialing=stop_dialing,
            hang_up=hang_up,
            pbx_wait=pbx_wait,
            writer=self.progress,
            locks=self.locks,
        )
        return await runner.run(name)

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
