"""The rows the C20 report reads (attempts, campaigns, the period) and the
helpers that fetch them; shared by ``figures`` and ``requirements``."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dialer.consent.model import Purpose
from dialer.store.db import ts
from dialer.store.store import Store

#: how many offending call ids a figure lists (the count is always complete)
MAX_EXAMPLES = 20
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class _Attempt:
    id: str
    campaign_id: int
    contact_id: int
    number_hash: str
    purpose: Purpose
    at: dt.datetime
    allowed: bool
    reason: str
    with_consent: bool
    state: str
    outcome: str
    answered: bool
    digits: str


@dataclass(frozen=True, slots=True)
class _Campaign:
    purpose: Purpose
    window: tuple[dt.time, dt.time]
    residential_exemption: bool
    emergency_ok: bool
    caller_id_hash: str


class _Period:
    def __init__(self, since: dt.datetime | None, until: dt.datetime | None) -> None:
        self.since, self.until = since, until

    def where(self, column: str) -> tuple[str, list[str]]:
        clauses, params = ["1 = 1"], []
        if self.since is not None:
            clauses.append(f"{column} >= ?")
            params.append(ts(self.since))
        if self.until is not None:
            clauses.append(f"{column} < ?")
            params.append(ts(self.until))
        return " AND ".join(clauses), params


def _seconds(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"max": None, "median": None}
    return {"max": round(max(values), 3), "median": round(statistics.median(values), 3)}


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


async def _by_hash(store: Store, sql: str, hashes: Iterable[str]) -> dict[str, list[Any]]:
    """Rows of ``sql`` (whose first column is number_hash, filtered by ``IN ({})``)."""
    out: dict[str, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(hashes))):
        marks = ",".join("?" * len(chunk))
        for row in await store.db.fetchall(sql.format(marks), chunk):
            out[str(row[0])].append(tuple(row))
    return out


async def _scalar(store: Store, sql: str, params: Sequence[Any] = ()) -> Any:
    row = await store.db.fetchone(sql, params)
    return row[0] if row else None
