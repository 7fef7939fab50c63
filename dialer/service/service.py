"""``dialer serve``: engine, FastAGI, campaign scheduler and HTTP in one asyncio loop.

Start-up order, each step failing with one clear message before anything is
dialled: the engine lock (one engine per store), the store, the HTTP port, the
engine (FastAGI port, AMI login), then the campaign supervisor. Shutdown runs
in reverse on SIGTERM or SIGINT (systemd and docker send SIGTERM): no new call
at once, the calls in progress get ``engine.drain_seconds`` to finish (a second
signal cuts that short), the rest are hung up as ``interrupted-by-shutdown``
(dialled again at the next start), and one summary line is logged; exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import structlog

from dialer.campaign.engine import Engine
from dialer.errors import HttpServerError
from dialer.service.http import HttpServer
from dialer.service.supervisor import Supervisor
from dialer.settings import Settings
from dialer.store.engine_lock import EngineLock
from dialer.store.store import Store
from dialer.web.app import create_app
from dialer.web.context import WebContext
from dialer.web.ui.optout import optout_app

log = structlog.get_logger("dialer.service")


class Service:
    """The running service; it is also the ``EngineView`` the web layer reads."""

    def __init__(self, settings: Settings, *, progress_lines: bool = True) -> None:
        """``progress_lines``: log a progress line per running campaign every
        ``logging.progress_seconds`` (off when a terminal shows the live view)."""
        self.settings = settings
        self.progress_lines = progress_lines
        self.lock = EngineLock(settings.store.path, "serve")
        self.store: Store | None = None
        self.engine: Engine | None = None
        self.supervisor: Supervisor | None = None
        self.http: HttpServer | None = None
        self.stopping = asyncio.Event()
        #: a second SIGTERM/SIGINT: hang up the calls in progress now
        self.hurry = asyncio.Event()

    # -- EngineView ------------------------------------------------------------

    def components(self) -> dict[str, Any]:
        if self.engine is None:
            return {"engine": {"ok": False, "error": "starting"}}
        scheduler = (
            self.supervisor.state() if self.supervisor else {"ok": False, "error": "starting"}
        )
        return {
            "ami": self.engine.server_states(),
            "fastagi": self.engine.agi_state(),
            "scheduler": scheduler,
        }

    def live_progress(self) -> dict[str, dict[str, Any]]:
        return self.supervisor.live_progress() if self.supervisor else {}

    def status_line(self) -> str:
        """One line for the terminal view: where it listens, Asterisk, what runs."""
        if self.stopping.is_set():
            return "dialer serve: stopping (calls in progress finish)"
        if self.engine is None or self.http is None or self.supervisor is None:
            return "dialer serve: starting"
        try:
            port = self.http.bound_port
        except HttpServerError:
            return "dialer serve: stopped"
        cfg = self.settings
        servers = self.engine.server_states()
        up = sum(1 for s in servers if s.get("ok"))
        asterisk = "up" if up == len(servers) else f"{up} of {len(servers)} up"
        running = len(self.supervisor.runs)
        return (
            f"dialer serve: HTTP {cfg.http.host}:{port} · Asterisk {asterisk} · "
            f"{running} campaign{'s' if running != 1 else ''} running"
        )

    # -- life ------------------------------------------------------------------

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT (or ``request_stop``)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig)
        try:
            async with contextlib.AsyncExitStack() as stack:
                self.lock.acquire()
                stack.callback(self.lock.release)
                cfg = self.settings
                self.store = await Store.open(cfg.store.path, cfg.store.key_file)
                stack.push_async_callback(self.store.close)
                ctx = WebContext(cfg, self.store, engine=self)
                self.store.db.observe_write = ctx.metrics.observe_store_write
                self.http = HttpServer(create_app(ctx), cfg.http.host, cfg.http.port)
                await self.http.start()
                stack.push_async_callback(self.http.stop)
                if cfg.web.optout_port:
                    # the parent opt-out page alone, on the address open to the internet
                    optout = HttpServer(optout_app(ctx), cfg.web.optout_host, cfg.web.optout_port)
                    await optout.start()
                    stack.push_async_callback(optout.stop)
                self.engine = Engine(cfg, self.store)
                await self.engine.start()
                stack.push_async_callback(self.engine.stop)
                self.supervisor = Supervisor(
                    self.store, self.engine, cfg, ctx.metrics, progress_lines=self.progress_lines
                )
                supervisor_task = asyncio.create_task(self.supervisor.run())
                log.info(
                    "service ready",
                    http=f"{cfg.http.host}:{self.http.bound_port}",
                    agi=f"{cfg.agi.host}:{self.engine.agi.bound_port}",
                )
                stopped = asyncio.create_task(self.stopping.wait())
                done, _ = await asyncio.wait(
                    {supervisor_task, stopped}, return_when=asyncio.FIRST_COMPLETED
                )
                if supervisor_task in done:
                    supervisor_task.result()  # a supervisor failure stops the service, loudly
                log.info("service stopping")
                drained = await self.supervisor.stop(cfg.engine.drain_seconds, self.hurry)
                supervisor_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor_task
                stopped.cancel()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info(
            f"service stopped: {drained.line()}",
            calls_in_progress=drained.in_progress,
            finished=drained.finished,
            hung_up=drained.hung_up,
            drain_seconds=round(drained.seconds, 1),
        )

    def request_stop(self, sig: int | None = None) -> None:
        name = signal.Signals(sig).name if sig else None
        if not self.stopping.is_set():
            log.info("stop requested", signal=name)
        elif not self.hurry.is_set():
            log.warning("second stop signal: calls in progress are hung up now", signal=name)
            self.hurry.set()
        self.stopping.set()
