"""This process's writers, one at a time, revocations first (issue 11 item 4, C5, C10).

Every write transaction of a :class:`~dialer.store.db.Database` takes this lock
before the writers' gate (writegate.py orders the processes). A plain
``asyncio.Lock`` is first come, first served: an engine placing 800 calls at
once queues decisions, outcomes and progress marks by the hundred, and a keypad
revocation waited behind all of them (over 1 s under load, so it fell back to
the journal). Here an *urgent* waiter (a revocation) is served before every
ordinary one; among themselves each kind keeps its order. Ordinary writers are
never starved for long: revocations are rare and each is one short transaction.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["WriteLock"]


class WriteLock:
    """An asyncio lock whose urgent waiters go ahead of the others."""

    def __init__(self) -> None:
        self._locked = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self._locked

    @property
    def waiting(self) -> int:
        return sum(not f.done() for f in (*self._urgent, *self._ordinary))

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._locked and self.waiting == 0:
            self._locked = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._ordinary
        queue.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # handed the lock just as we were cancelled: pass it on
                self.release()
            raise
        finally:
            if future in queue:
                queue.remove(future)

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("WriteLock released while not held")
        for queue in (self._urgent, self._ordinary):
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)  # the lock passes on, still held
                    return
        self._locked = False
