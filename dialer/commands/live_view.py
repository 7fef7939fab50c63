"""The live progress view on a terminal: one block per running campaign.

``dialer campaign run`` shows its campaign; ``dialer serve`` shows every
campaign the service runs, under a status line (HTTP address, Asterisk). Each
block is a ``CampaignProgress`` snapshot: done/total with a bar, calls in
progress, calls per second, the ETA and the outcomes so far: the same figures
that the JSON progress lines carry off a terminal (systemd, docker, a pipe),
and that /metrics and the JSON API serve.

Redrawn from the asyncio loop (``auto_refresh=False``): the progress objects
are only ever read on the thread that updates them. Log lines written while
the view is up appear above it (rich redirects stdout and stderr).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from dialer.model.outcome import Outcome

#: redraws per second
REFRESH_PER_SECOND = 4
#: outcomes in the order staff read them; any other comes after, alphabetically
OUTCOME_ORDER = tuple(o.value for o in Outcome)

Snapshots = Mapping[str, Mapping[str, Any]]


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"  # no call has ended yet: no rate to go by
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _outcomes(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    known = [(o, counts[o]) for o in OUTCOME_ORDER if counts.get(o)]
    other = sorted((o, n) for o, n in counts.items() if o not in OUTCOME_ORDER and n)
    return known + other


def campaign_block(name: str, snap: Mapping[str, Any]) -> Table:
    done, total = int(snap.get("done", 0)), int(snap.get("total", 0))
    table = Table(title=f"campaign {name}", title_justify="left", show_header=False, min_width=44)
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_row("done", f"{done} / {total}")
    table.add_row("", ProgressBar(total=max(total, 1), completed=done, width=24))
    table.add_row("in progress", str(snap.get("in_progress", 0)))
    table.add_row("calls/s", f"{float(snap.get('calls_per_second', 0.0)):.1f}")
    table.add_row("ETA", format_eta(snap.get("eta_seconds")))
    for outcome, count in _outcomes(snap.get("outcomes", {})):
        table.add_row(f"  {outcome}", str(count))
    return table


def render(snapshots: Snapshots, header: str = "", idle: str = "") -> RenderableType:
    parts: list[RenderableType] = []
    if header:
        parts.append(Text(header, style="bold"))
    parts.extend(campaign_block(name, snap) for name, snap in sorted(snapshots.items()))
    if not snapshots and idle:
        parts.append(Text(idle, style="dim"))
    return Group(*parts)


class LiveProgressView:
    """``async with LiveProgressView(console, source): ...`` redraws while the body runs."""

    def __init__(
        self,
        console: Console,
        source: Callable[[], Snapshots],
        *,
        header: Callable[[], str] = lambda: "",
        idle: str = "",
    ) -> None:
        self.console = console
        self.source = source
        self.header = header
        self.idle = idle
        self._live: Live | None = None
        self._task: asyncio.Task[None] | None = None

    def renderable(self) -> RenderableType:
        return render(self.source(), self.header(), self.idle)

    async def _redraw(self) -> None:
        while self._live is not None:
            self._live.update(self.renderable(), refresh=True)
            await asyncio.sleep(1 / REFRESH_PER_SECOND)

    async def __aenter__(self) -> LiveProgressView:
        self._live = Live(self.renderable(), console=self.console, auto_refresh=False)
        self._live.start(refresh=True)
        self._task = asyncio.create_task(self._redraw())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        live, self._live = self._live, None
        if live is not None:
            live.update(self.renderable(), refresh=True)  # the final figures stay on screen
            live.stop()
