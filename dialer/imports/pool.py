"""Preparing rows on every core, in order, with a bounded number in flight.

Reading a row is cheap; normalising its number, resolving its zones and
sealing it costs ~30 us of Python (bench/contacts_scale.py). One process does
~35,000 rows/s; a million-row export must load in under 30 s, so the rows are
prepared by worker processes while this one reads the file and writes the
store. Results come back in file order, and only ``window`` batches are ever
in flight, so memory stays flat whatever the file's size. Small files are
prepared in-process: starting workers costs more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: files smaller than this are prepared in-process
PARALLEL_FROM_BYTES = 4 * 1024 * 1024
#: batches in flight per worker (one being prepared, one queued, one coming back)
WINDOW_PER_WORKER = 3


def worker_count() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


class Preparer:
    """``map`` a function over batches, in order: in workers, or in this process."""

    def __init__(self, parallel: bool) -> None:
        self._executor: ProcessPoolExecutor | None = None
        self._workers = worker_count() if parallel else 0
        if self._workers > 1:
            # spawn: a fresh interpreter, never a fork of this process's threads
            self._executor = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("spawn")
            )

    def map(self, fn: Callable[[T], R], batches: Iterable[T]) -> Iterator[R]:
        if self._executor is None:
            yield from map(fn, batches)
            return
        pending: deque[Future[R]] = deque()
        window = self._workers * WINDOW_PER_WORKER
        for batch in batches:
            pending.append(self._executor.submit(fn, batch))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> Preparer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
