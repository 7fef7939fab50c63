"""The service's campaign scheduler: starts due campaigns, acts on state changes.

(Skeleton: campaign lifecycle states arrive with dialer.campaign.control.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from dialer.campaign.engine import Engine
from dialer.metrics import Metrics
from dialer.settings import Settings
from dialer.store.store import Store

#: how often the store's campaign states are read (contract: within 1 s)
POLL_SECONDS = 0.5


class Supervisor:
    def __init__(self, store: Store, engine: Engine, settings: Settings, metrics: Metrics) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self._stopping = asyncio.Event()

    def state(self) -> dict[str, Any]:
        return {"ok": not self._stopping.is_set(), "running": []}

    def live_progress(self) -> dict[str, dict[str, Any]]:
        return {}

    async def run(self) -> None:
        await self._stopping.wait()

    async def stop(self) -> None:
        self._stopping.set()
