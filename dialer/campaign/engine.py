"""Wire the engine together: store, AMI client, FastAGI server, runner.

``Engine`` is what ``dialer campaign run`` and ``dialer serve`` start. Start-up
fails fast and clearly (AMI unreachable or refusing our login, FastAGI port in
use) before a single call is gated or placed, then closes what a dead engine
left in flight (campaign/recovery.py).
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
from dialer.telephony.ami import client_for
from dialer.telephony.fastagi import FastAgiServer, session_cap

log = structlog.get_logger("dialer.engine")


class Engine:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.registry = CallRegistry()
        self.ami = client_for(
            settings.asterisk_servers[0],
            settings.ami_secret(),
            connect_timeout=settings.asterisk.connect_timeout,
            action_timeout=settings.asterisk.action_timeout,
            on_disconnect=self._pbx_lost,
        )
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

    def _pbx_lost(self, reason: str) -> None:
        """AMI is gone: every call in flight died with Asterisk, or cannot be watched.

        Each call's machine records it as ``interrupted-by-pbx`` (unless the callee
        already heard the whole message or pressed 9/8); the runner stops dialling.
        """
        calls = self.registry.calls()
        if calls:
            log.warning("asterisk went away; calls in flight interrupted", calls=len(calls))
        for call in calls:
            call.feed(Interrupt(InterruptKind.PBX))

    async def start(self) -> None:
        # C19: a store that fails its start-up integrity check is never dialled from
        await self.store.check_integrity()
        # the FastAGI port first: it fails instantly, AMI may take seconds
        await self.agi.start()
        try:
            await self.ami.connect()
            # issue 13: calls a dead engine left in flight are hung up on Asterisk and
            # closed by how far they got, before this engine dials anything
            self.recovered = await recover(self.store, self.ami.hangup_call)
        except BaseException:
            await self.ami.close()
            await self.agi.stop()
            raise
        log.info(
            "engine ready",
            ami=f"{self.settings.asterisk.ami_host}:{self.settings.asterisk.ami_port}",
            agi=f"{self.settings.agi.host}:{self.agi.bound_port}",
        )

    async def stop(self) -> None:
        await self.agi.stop()
        await self.ami.close()
        await self.progress.close()

    def server_states(self) -> list[dict[str, Any]]:
        """Each Asterisk server's AMI link, for /healthz and /metrics (one server for now)."""
        return [
            {
                "server": "default",
                "ami": self.ami.where,
                "ok": self.ami.connected,
                "active_calls": len(self.ami.calls),
                "reconnects": int(getattr(self.ami, "reconnects", 0)),
                **({} if self.ami.connected else {"error": self.ami.disconnect_reason}),
            }
        ]

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
    ) -> RunSummary:
        runner = CampaignRunner(
            self.store,
            self.settings,
            self.ami,
            self.registry,
            self.messages.plan,
            progress,
            wait_for_window=wait_for_window,
            stop_dialing=stop_dialing,
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
