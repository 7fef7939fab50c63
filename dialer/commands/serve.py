"""``dialer serve``: the long-running engine (FastAGI, scheduler)."""

from __future__ import annotations

import asyncio

import typer

from dialer.campaign.engine import Engine
from dialer.commands.common import console, open_store, run_async, settings


def serve(
    campaign: list[str] = typer.Option([], help="Campaign(s) to run, one after another"),
) -> None:
    """Run the engine until stopped (Ctrl-C): FastAGI server, AMI, campaigns.

    Example: dialer serve --campaign snow-day
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg) as store, Engine(cfg, store) as engine:
            console.print(f"engine running; FastAGI on {cfg.agi.host}:{cfg.agi.port}")
            for name in campaign:
                # long-running: callees outside their window are called when it opens
                await engine.run_campaign(name, wait_for_window=True)
                console.print(f"campaign {name!r} done")
            await asyncio.Event().wait()  # until Ctrl-C / SIGTERM

    run_async(body)
