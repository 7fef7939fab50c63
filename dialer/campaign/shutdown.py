"""SIGTERM/SIGINT for a foreground ``campaign run`` (issue 9 item 3).

The first signal stops new calls at once and starts the drain: calls in
progress get ``engine.drain_seconds`` to finish their message; then (or at a
second signal) ``hang_up`` is set and the runner hangs up the rest, recorded
``interrupted-by-shutdown`` and dialled again by the next run unless the
callee heard the whole message or pressed 9/8. ``dialer serve`` does the same
for every campaign it runs (service/supervisor.py).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from types import TracebackType

import structlog

log = structlog.get_logger("dialer.shutdown")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class SignalDrain:
    """Installs the signal handlers while entered; ``stop`` and ``hang_up`` are
    the runner's events."""

    def __init__(
        self,
        stop: asyncio.Event,
        hang_up: asyncio.Event,
        drain_seconds: float,
        calls_in_progress: Callable[[], int],
    ) -> None:
        self.stop = stop
        self.hang_up = hang_up
        self.drain_seconds = drain_seconds
        self.calls_in_progress = calls_in_progress
        #: set by the first signal
        self.signal: str | None = None
        self.at_signal = 0
        self.left_at_hang_up: int | None = None
        self.started = 0.0
        self.drained = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def __enter__(self) -> SignalDrain:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
        if self._timer is not None:
            self._timer.cancel()
        if self.signal is not None and self.left_at_hang_up is None:
            self.drained = time.monotonic() - self.started

    def _on_signal(self, sig: int) -> None:
        name = signal.Signals(sig).name
        if self.signal is None:
            self.signal = name
            self.started = time.monotonic()
            self.at_signal = self.calls_in_progress()
            log.warning(
                "stop requested: no new calls; calls in progress finish",
                signal=name,
                calls=self.at_signal,
                drain_seconds=self.drain_seconds,
            )
            self.stop.set()
            self._timer = asyncio.get_running_loop().call_later(self.drain_seconds, self._hang_up)
        else:
            log.warning("second stop signal: calls in progress are hung up now", signal=name)
            self._hang_up()

    def _hang_up(self) -> None:
        if self.left_at_hang_up is None:
            self.left_at_hang_up = self.calls_in_progress()
            self.drained = time.monotonic() - self.started
        self.hang_up.set()

    def summary(self) -> str:
        """One line for the operator (after a signal)."""
        left = self.left_at_hang_up or 0
        if not self.at_signal:
            calls = "no call was in progress"
        else:
            calls = (
                f"{self.at_signal} call{'s' if self.at_signal != 1 else ''} in progress: "
                f"{max(0, self.at_signal - left)} finished in {self.drained:.1f} s, {left} hung "
                "up as interrupted-by-shutdown"
            )
        return (
            f"stopped by {self.signal}: {calls}; no new calls placed. Run the same command "
            "again to call the contacts left (and the calls cut short, once)"
        )
