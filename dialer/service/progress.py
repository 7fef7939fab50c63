"""Live progress of one campaign run, from the runner's progress events.

Fed by ``CampaignRunner``'s ``progress`` callback (events ``start``,
``dialing``, ``blocked``, ``outcome``, ``deferred``, ``done``); read by the
service's progress log line, ``/metrics``, the JSON API and the terminal view.
``calls_per_second`` is measured over the last ``RATE_WINDOW_S`` seconds, so it
follows pacing changes; the ETA is what is left at that rate.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import structlog

#: attempts per second are measured over this many recent seconds
RATE_WINDOW_S = 30.0

log = structlog.get_logger("dialer.progress")


class CampaignProgress:
    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.clock = clock
        self.started = clock()
        self.total = 0
        self.done = 0
        self.in_flight = 0
        self.waiting = 0
        self.outcomes: Counter[str] = Counter()
        self.finished = False
        self._recent: deque[float] = deque()

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start":
            self.total = int(event.get("pending", 0))
            self.started = self.clock()
        elif kind == "dialing":
            self.in_flight += 1
        elif kind == "deferred":
            self.waiting += 1
        elif kind == "outcome":
            outcome = str(event["outcome"])
            self.outcomes[outcome] += 1
            self.done += 1
            if outcome != "blocked":
                self.in_flight = max(0, self.in_flight - 1)
            self._recent.append(self.clock())
            # a retry or a deferred contact comes back: done never passes total
            self.total = max(self.total, self.done + self.in_flight)
        elif kind == "done":
            self.finished = True

    def calls_per_second(self) -> float:
        now = self.clock()
        while self._recent and self._recent[0] < now - RATE_WINDOW_S:
            self._recent.popleft()
        span = min(RATE_WINDOW_S, max(now - self.started, 1e-9))
        return len(self._recent) / span if self._recent else 0.0

    def eta_seconds(self) -> float | None:
        rate = self.calls_per_second()
        left = max(0, self.total - self.done)
        if left == 0:
            return 0.0
        return left / rate if rate > 0 else None

    def snapshot(self) -> dict[str, Any]:
        eta = self.eta_seconds()
        return {
            "done": self.done,
            "total": self.total,
            "in_progress": self.in_flight,
            "outcomes": dict(sorted(self.outcomes.items())),
            "calls_per_second": round(self.calls_per_second(), 2),
            "eta_seconds": None if eta is None else round(eta, 1),
            "elapsed_seconds": round(self.clock() - self.started, 1),
        }

    def log_line(self) -> None:
        """One structured progress line (the service logs it every few seconds)."""
        log.info("campaign progress", campaign=self.name, **self.snapshot())
