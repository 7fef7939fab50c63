"""``dialer serve``: the always-on service (engine, FastAGI, scheduler, HTTP)."""

from __future__ import annotations

from dialer.commands.common import console, run_async, settings
from dialer.commands.live_view import LiveProgressView
from dialer.service.service import Service


def serve() -> None:
    """Run the service until SIGTERM/SIGINT: FastAGI, AMI, campaign scheduler, HTTP
    (JSON API, /healthz, /metrics, SMS webhook, web UI on [http] host:port).

    Campaigns are started, paused and cancelled with 'dialer campaign start|pause|
    resume|cancel' (or the HTTP API); the service acts on them within a second.
    On a terminal it shows each running campaign's progress live; elsewhere
    (systemd, docker, a pipe) it logs JSON lines, with a progress line per
    running campaign every few seconds.

    Example: dialer serve
    """

    async def body() -> None:
        cfg = settings(json_logs_off_terminal=True)
        if not console.is_terminal:
            await Service(cfg).run()
            return
        # on a terminal the live view shows the progress: no progress log lines
        service = Service(cfg, progress_lines=False)
        view = LiveProgressView(
            console,
            service.live_progress,
            header=service.status_line,
            idle="no campaign running; start one with: dialer campaign start NAME",
        )
        async with view:
            await service.run()

    run_async(body)
