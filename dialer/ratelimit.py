"""Sliding-window rate limits (login attempts, the parent opt-out page).

Pure logic over an injected monotonic clock: ``Limiter(limit, window_s)``
allows at most ``limit`` hits per key in any ``window_s`` seconds. Keys are
whatever the caller limits on: an account name, an address, a number's keyed
hash (never a plaintext number, C18). Memory is bounded: keys whose hits have
all expired are dropped, and past ``max_keys`` the oldest keys go first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

DEFAULT_MAX_KEYS = 100_000


class Limiter:
    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a rate limit needs limit >= 1 and a positive window")
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _live(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may act again; 0 when it may act now."""
        now = self.clock()
        hits = self._live(key, now)
        if len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[-self.limit] + self.window_s - now)

    def allowed(self, key: str) -> bool:
        return self.retry_after(key) == 0.0

    def hit(self, key: str) -> None:
        """Count one hit for ``key``."""
        now = self.clock()
        hits = self._live(key, now)
        if key not in self._hits:
            self._hits[key] = hits
        hits.append(now)
        self._hits.move_to_end(key)
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)

    def take(self, key: str) -> bool:
        """Count a hit if allowed; False (and nothing counted) when over the limit."""
        if not self.allowed(key):
            return False
        self.hit(key)
        return True

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
