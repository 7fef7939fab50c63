"""The terminal's live progress view (``campaign run`` and ``dialer serve``):
one block per running campaign from ``CampaignProgress`` snapshots."""

from __future__ import annotations

import asyncio

from rich.console import Console

from dialer.commands.live_view import LiveProgressView, format_eta, render
from dialer.service.progress import CampaignProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _text(renderable: object, width: int = 80) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_eta_reads_as_a_clock() -> None:
    assert format_eta(None) == "-"
    assert format_eta(0) == "0:00"
    assert format_eta(59.6) == "1:00"
    assert format_eta(754) == "12:34"
    assert format_eta(3 * 3600 + 61) == "3:01:01"


def test_one_block_per_campaign_with_done_total_outcomes_rate_and_eta() -> None:
    clock = Clock()
    snow = CampaignProgress("snow-day", clock)
    snow({"event": "start", "pending": 10})
    for outcome in ("completed", "completed", "busy", "opted-out"):
        snow({"event": "dialing"})
        clock.now += 1
        snow({"event": "outcome", "outcome": outcome})
    snow({"event": "dialing"})
    fair = CampaignProgress("book-fair", clock)
    fair({"event": "start", "pending": 3})
    text = _text(
        render({"snow-day": snow.snapshot(), "book-fair": fair.snapshot()}, header="dialer serve")
    )
    assert (
        text.index("dialer serve")
        < text.index("campaign book-fair")
        < text.index("campaign snow-day")
    )
    block = text[text.index("campaign snow-day") :]
    assert "4 / 10" in block and "in progress" in block
    assert "calls/s" in block and "1.0" in block  # 4 calls in 4 s
    assert "0:06" in block  # 6 left at 1/s
    # outcomes in the order staff read them
    assert block.index("completed") < block.index("opted-out") < block.index("busy")
    assert "0 / 3" in text and "ETA" in text


def test_idle_service_says_how_to_start_a_campaign() -> None:
    text = _text(render({}, header="dialer serve: HTTP 127.0.0.1:8080", idle="no campaign"))
    assert "HTTP 127.0.0.1:8080" in text and "no campaign" in text


async def test_view_redraws_from_the_loop_and_leaves_the_final_figures() -> None:
    console = Console(width=80, record=True, force_terminal=True, color_system=None)
    progress = CampaignProgress("c")
    progress({"event": "start", "pending": 2})
    async with LiveProgressView(console, lambda: {"c": progress.snapshot()}):
        await asyncio.sleep(0.3)
        progress({"event": "outcome", "outcome": "busy"})
        progress({"event": "outcome", "outcome": "completed"})
        await asyncio.sleep(0.3)
    text = console.export_text()
    assert "0 / 2" in text and "2 / 2" in text
