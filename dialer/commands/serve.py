"""``dialer serve``: the always-on service (engine, FastAGI, scheduler, HTTP)."""

from __future__ import annotations

from dialer.commands.common import run_async, settings
from dialer.service.service import Service


def serve() -> None:
    """Run the service until SIGTERM/SIGINT: FastAGI, AMI, campaign scheduler, HTTP
    (JSON API, /healthz, /metrics, SMS webhook, web UI on [http] host:port).

    Campaigns are started, paused and cancelled with 'dialer campaign start|pause|
    resume|cancel' (or the HTTP API); the service acts on them within a second.

    Example: dialer serve
    """

    async def body() -> None:
        await Service(settings(json_logs_off_terminal=True)).run()

    run_async(body)
