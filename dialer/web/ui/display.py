"""How the console shows times and report figures to staff (pure, no I/O).

Times are stored in UTC (``2026-12-02T09:22:16.244241Z``); staff read them in
the organisation's time zone, to the minute, with the zone's abbreviation
(``2026-12-02 04:22 EST``), as the campaign page already reads start times.
Report figures are Python values; ``None`` and ``{'school': 2}`` mean nothing
to a district staff member, so they read ``—`` and ``school 2``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

NOTHING = "—"


def local_time(zone: str) -> Callable[[Any], str]:
    """The ``local`` filter: a UTC datetime or ISO 8601 text, in ``zone``."""
    tz = zoneinfo.ZoneInfo(zone)

    def show(value: Any) -> str:
        if value is None or value == "":
            return NOTHING
        moment = value
        if isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value  # not a time after all: shown as it is
        if not isinstance(moment, dt.datetime):
            return str(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)  # the store writes UTC
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")

    return show


def figure(value: Any) -> str:
    """One report figure as staff read it."""
    if value is None:
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        if not value:
            return "none"
        return ", ".join(f"{k} {figure(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(figure(v) for v in value) if value else "none"
    return str(value)


def label(key: str) -> str:
    """A figure's name: ``calls_to_company_dnc`` -> ``calls to company dnc``."""
    return key.replace("_", " ")
