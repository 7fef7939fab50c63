"""How far each call got, written durably without slowing calls down (issue 13 item 1).

The call state machine commands ``RecordProgress`` at the points crash
recovery needs: originate sent, answered, each message segment reached,
message completed, keypad verdict heard. Writing each of them in its own
transaction would add several store waits to every call; instead this writer
*group-commits*: marks wait in memory while one transaction is running, and
the next transaction writes all of them at once. A mark is durable one
transaction after it happened (a few ms); under load a single transaction
carries the marks of many calls. No call ever waits for it.

A failed write keeps its marks and is tried again (the columns only move
forward, so order does not matter); ``flush()`` waits until everything handed
in so far is on disk (a clean shutdown calls it).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from dialer.campaign.callevents import Mark
from dialer.errors import StoreError
from dialer.model.campaign import ProgressMarks
from dialer.store.store import Store

log = structlog.get_logger("dialer.progress")

#: after a failed write, wait this long before the next try (seconds, doubling)
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0


class ProgressWriter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: dict[str, ProgressMarks] = {}
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        #: transactions written so far (for the benchmark's figures)
        self.batches = 0

    def mark(self, call_id: str, mark: Mark, value: str = "") -> None:
        """Record that ``call_id`` reached ``mark`` (never blocks)."""
        now = self.store.clock()
        marks = self._pending.get(call_id)
        if marks is None:
            marks = self._pending[call_id] = ProgressMarks()
        if mark is Mark.ORIGINATE_SENT:
            marks.originated_at = marks.originated_at or now
        elif mark is Mark.ANSWERED:
            marks.answered_at = marks.answered_at or now
        elif mark is Mark.SEGMENT:
            marks.segment = max(marks.segment or 0, int(value))
        elif mark is Mark.COMPLETED:
            marks.completed_at = marks.completed_at or now
        elif mark is Mark.DIGIT and value not in marks.digits:
            marks.digits += value
        self._idle.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="progress-writer")

    async def flush(self) -> None:
        """Wait until every mark handed in so far is committed."""
        await self._idle.wait()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = RETRY_FIRST_S
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                await self.store.campaigns.record_progress(batch)
            except StoreError as exc:
                log.warning("progress write failed; retrying", error=str(exc), calls=len(batch))
                for call_id, marks in batch.items():
                    self._pending[call_id] = _merge(marks, self._pending.get(call_id))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self.batches += 1
            delay = RETRY_FIRST_S
        self._idle.set()


def _merge(old: ProgressMarks, new: ProgressMarks | None) -> ProgressMarks:
    if new is None:
        return old
    segments = [s for s in (old.segment, new.segment) if s is not None]
    return ProgressMarks(
        originated_at=old.originated_at or new.originated_at,
        answered_at=old.answered_at or new.answered_at,
        segment=max(segments) if segments else None,
        completed_at=old.completed_at or new.completed_at,
        digits=old.digits + "".join(d for d in new.digits if d not in old.digits),
    )
