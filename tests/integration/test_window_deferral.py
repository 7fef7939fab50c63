"""C12 at run time: a callee whose local window is closed is not dialled; with
wait-for-window the run waits and dials at the opening (real Asterisk, a store
clock shifted so that New York is 3 seconds before 08:00)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.sandbox import Sandbox
from support.workspace import make_workspace

from dialer.campaign.engine import Engine
from dialer.model.outcome import Outcome
from dialer.store.store import Store

pytestmark = pytest.mark.integration

NEW_YORK = ZoneInfo("America/New_York")
NUMBER = "+12125550195"  # New York; sandbox phone 5 answers and presses 9


def shifted_clock(local_target: dt.time) -> Callable[[], dt.datetime]:
    """A clock running at real speed that reads ``local_target`` in New York now."""
    real_now = dt.datetime.now(dt.UTC)
    today = real_now.astimezone(NEW_YORK).date()
    target = dt.datetime.combine(today, local_target, NEW_YORK).astimezone(dt.UTC)
    offset = target - real_now
    return lambda: dt.datetime.now(dt.UTC) + offset


@pytest.mark.parametrize("wait", [False, True])
def test_c12_closed_window_blocks_then_waits_for_the_opening(
    tmp_path: Path, sandbox: Sandbox, wait: bool
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    ws.school_campaign({"ny": NUMBER}, campaign="early")
    settings = ws.settings()

    async def run() -> list[tuple[str, str | None, dt.datetime]]:
        clock = shifted_clock(dt.time(7, 59, 57))
        store = await Store.open(settings.store.path, settings.store.key_file, clock=clock)
        try:
            async with Engine(settings, store) as engine:
                await asyncio.wait_for(
                    engine.run_campaign("early", wait_for_window=wait), timeout=60
                )
            campaign = await store.campaigns.get("early")
            return [
                (
                    a.reason,
                    a.outcome.value if a.outcome else None,
                    a.decided_at.astimezone(NEW_YORK),
                )
                for a in await store.campaigns.attempts(campaign.id)
            ]
        finally:
            await store.close()

    attempts = asyncio.run(run())
    assert attempts[0][0] == "outside-window"
    assert attempts[0][1] == Outcome.BLOCKED.value
    assert attempts[0][2].time() < dt.time(8, 0)
    if not wait:
        assert len(attempts) == 1
    else:
        assert len(attempts) == 2
        reason, outcome, at = attempts[1]
        assert reason == "allowed"
        assert outcome == Outcome.OPTED_OUT.value
        assert dt.time(8, 0) <= at.time() < dt.time(8, 0, 10)
