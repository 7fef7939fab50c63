"""The service's campaign scheduler: acts on campaign states within a second.

Every ``POLL_SECONDS`` it reads the live campaigns from the store and asks the
pure ``decide`` what to do:

* ``begin``  a scheduled campaign whose start time has come: scheduled ->
             running (audited, by "scheduler"), then launch it;
* ``launch`` a running campaign with no runner here (just started from the
             CLI or API, resumed, or left running by the previous service
             process: after a restart every running campaign continues);
* ``halt``   a runner whose campaign is no longer running (paused, cancelled):
             it places no new call, calls in progress finish.

A run that ends with every contact done completes the campaign. One that the
rules refuse (C14 caller ID removed, C15 DNC copy too old ...) pauses it with
the reason, so staff see why in ``campaign status``; one that fails on
Asterisk or the store is retried after ``RETRY_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import time
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from dialer.campaign.control import complete_campaign, pause_campaign
from dialer.campaign.engine import Engine
from dialer.errors import DialerError, InputError, NotFoundError, StateError
from dialer.metrics import Metrics
from dialer.model.lifecycle import CampaignState, Command
from dialer.service.progress import CampaignProgress
from dialer.settings import Settings
from dialer.store.lifecycle import LifecycleRow
from dialer.store.store import Store

log = structlog.get_logger("dialer.supervisor")

#: how often the store's campaign states are read (contract 2: acted on within 1 s)
POLL_SECONDS = 0.5
#: a run that failed on Asterisk or the store is tried again after this long
RETRY_SECONDS = 15.0
#: after the drain, how long the hung-up calls get to record their outcome
#: (the runner's own grace for them is 10 s; past this the runners are cancelled)
HANG_UP_GRACE_SECONDS = 20.0

Action = tuple[Literal["begin", "launch", "halt"], str]


def decide(
    rows: Iterable[LifecycleRow],
    running: set[str],
    now: dt.datetime,
    backing_off: AbstractSet[str] = frozenset(),
) -> list[Action]:
    """What the supervisor does next (pure: the states, the runners here, the time)."""
    actions: list[Action] = []
    wanted: set[str] = set()
    for row in rows:
        if row.state is CampaignState.RUNNING:
            wanted.add(row.name)
            if row.name not in running and row.name not in backing_off:
                actions.append(("launch", row.name))
        elif (
            row.state is CampaignState.SCHEDULED
            and row.start_at is not None
            and row.start_at <= now
            and row.name not in running
        ):
            wanted.add(row.name)
            actions.append(("begin", row.name))
    actions.extend(("halt", name) for name in sorted(running - wanted))
    return actions


@dataclass
class _Run:
    task: asyncio.Task[None]
    stop: asyncio.Event
    progress: CampaignProgress
    hang_up: asyncio.Event


@dataclass(frozen=True)
class DrainSummary:
    """What a shutdown did to the calls in progress (issue 9 item 3)."""

    in_progress: int
    finished: int
    hung_up: int
    seconds: float

    def line(self) -> str:
        if not self.in_progress:
            return "no call was in progress"
        return (
            f"{self.in_progress} call{'s' if self.in_progress != 1 else ''} in progress: "
            f"{self.finished} finished in {self.seconds:.1f} s, {self.hung_up} hung up as "
            "interrupted-by-shutdown (dialled again at the next start unless the message "
            "was heard or 9/8 pressed)"
        )


class Supervisor:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        settings: Settings,
        metrics: Metrics,
        *,
        progress_lines: bool = True,
    ) -> None:
        self.store = store
        self.progress_lines = progress_lines
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.runs: dict[str, _Run] = {}
        self._retry_at: dict[str, float] = {}
        self._stopping = asyncio.Event()
        self._last_tick: float | None = None
        self._last_error: str | None = None

    # -- what the HTTP layer reads ---------------------------------------------------

    def state(self) -> dict[str, Any]:
        fresh = self._last_tick is not None and time.monotonic() - self._last_tick < 5
        return {
            "ok": fresh and not self._stopping.is_set(),
            "running": sorted(self.runs),
            **({"error": self._last_error} if self._last_error else {}),
        }

    def live_progress(self) -> dict[str, dict[str, Any]]:
        return {name: run.progress.snapshot() for name, run in self.runs.items()}

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        next_progress = time.monotonic() + self.settings.logging.progress_seconds
        while not self._stopping.is_set():
            try:
                await self.tick()
                self._last_error = None
            except DialerError as exc:  # the store was busy or failed: try again next tick
                self._last_error = str(exc)
                log.error("scheduler tick failed", error=str(exc))
            self._last_tick = time.monotonic()
            if time.monotonic() >= next_progress:
                for run in self.runs.values() if self.progress_lines else ():
                    run.progress.log_line()
                next_progress = time.monotonic() + self.settings.logging.progress_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), POLL_SECONDS)

    async def tick(self) -> None:
        rows = await self.store.lifecycle.live()
        now_mono = time.monotonic()
        backing_off = {n for n, at in self._retry_at.items() if at > now_mono}
        for kind, name in decide(rows, set(self.runs), self.store.clock(), backing_off):
            if kind == "halt":
                run = self.runs.get(name)
                if run is not None and not run.stop.is_set():
                    log.info(
                        "campaign halting: no new calls, calls in progress finish", campaign=name
                    )
                    run.stop.set()
                continue
            if kind == "begin":
                try:
                    await self.store.lifecycle.apply(name, Command.BEGIN, by="scheduler")
                except StateError:
                    continue  # changed meanwhile (started, cancelled): next tick sees it
                log.info("scheduled campaign starting", campaign=name)
            self._launch(name)

    def _launch(self, name: str) -> None:
        self._retry_at.pop(name, None)
        stop = asyncio.Event()
        hang_up = asyncio.Event()
        progress = CampaignProgress(name)
        task = asyncio.create_task(
            self._drive(name, stop, hang_up, progress), name=f"campaign {name}"
        )
        self.runs[name] = _Run(task, stop, progress, hang_up)
        task.add_done_callback(functools.partial(self._finished, name))
        log.info("campaign running", campaign=name)

    def _finished(self, name: str, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("campaign runner crashed", campaign=name, error=str(task.exception()))
            self._retry_at[name] = time.monotonic() + RETRY_SECONDS
        run = self.runs.get(name)
        if run is not None and run.task is task:
            del self.runs[name]

    async def _drive(
        self, name: str, stop: asyncio.Event, hang_up: asyncio.Event, progress: CampaignProgress
    ) -> None:
        def on_event(event: dict[str, Any]) -> None:
            progress(event)
            self.metrics.observe_event(event)

        try:
            # pbx_wait None: the service waits for Asterisk as long as it takes
            summary = await self.engine.run_campaign(
                name, on_event, wait_for_window=True, stop_dialing=stop, hang_up=hang_up
            )
        except (InputError, NotFoundError) as exc:
            # the rules refuse to run it (C14, C15 ...): stop trying, say why
            log.error("campaign cannot run; paused", campaign=name, error=str(exc))
            with contextlib.suppress(DialerError):
                await pause_campaign(self.store, name, by="engine", reason=f"cannot run: {exc}")
            return
        except DialerError as exc:
            log.error(
                "campaign run failed; retrying", campaign=name, error=str(exc), after=RETRY_SECONDS
            )
            self._retry_at[name] = time.monotonic() + RETRY_SECONDS
            return
        progress.log_line()
        if not summary.stopped:
            if await complete_campaign(self.store, name, by="engine"):
                log.info("campaign completed", campaign=name, seconds=round(summary.seconds, 1))
        else:
            log.info("campaign run stopped", campaign=name, done=progress.done)

    async def stop(self, drain_seconds: float, hurry: asyncio.Event | None = None) -> DrainSummary:
        """Issue 9 item 3: no new calls anywhere; the calls in progress get
        ``drain_seconds`` (or until ``hurry`` is set: a second signal) to finish,
        then the rest are hung up and recorded ``interrupted-by-shutdown``."""
        self._stopping.set()
        started = time.monotonic()
        in_progress = len(self.engine.registry)
        runs = list(self.runs.values())
        for run in runs:
            run.stop.set()
        tasks = {run.task for run in runs}
        if tasks:
            log.info(
                "stopping: no new calls; calls in progress finish",
                calls=in_progress,
                drain_seconds=drain_seconds,
            )
            waits: set[asyncio.Future[Any]] = set(tasks)
            hurried = asyncio.ensure_future(hurry.wait()) if hurry is not None else None
            if hurried is not None:
                waits.add(hurried)
            deadline = started + drain_seconds
            while tasks and time.monotonic() < deadline and not (hurry and hurry.is_set()):
                await asyncio.wait(
                    waits, timeout=deadline - time.monotonic(), return_when=asyncio.FIRST_COMPLETED
                )
                tasks = {t for t in tasks if not t.done()}
                waits = {w for w in waits if not w.done()}
            if hurried is not None:
                hurried.cancel()
        drained = time.monotonic() - started
        left = len(self.engine.registry)
        if tasks:
            for run in runs:
                run.hang_up.set()
            _done, pending = await asyncio.wait(tasks, timeout=HANG_UP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        return DrainSummary(in_progress, in_progress - left, left, drained)
