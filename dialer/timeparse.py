"""Reading a moment in time from what people and gateways write (issue 8 items 4, 5).

One rule for every command and import that takes a time (consent
``--obtained-at``, SMS ``--received-at`` and gateway exports):

- ISO 8601 with a zone (``2026-11-02T10:15:00Z``, ``...-05:00``): as written;
- ISO 8601 without a zone (``2026-11-02 10:15``): a local time in the
  organisation's time zone (``organisation.timezone``), never silently UTC;
- epoch seconds (``1793614500``), where ``allow_epoch``: gateways export them;
- a date alone (``2026-11-02``) is refused: midnight would be invented, and
  for an opt-out the day alone does not order it against a consent;
- anything else, or a time outside 1970-9999 (``99999999999999`` once
  reached ``datetime`` as an unhandled ValueError), is an InputError naming
  what was being read.

The result is always aware and in UTC.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from dialer.errors import InputError

__all__ = ["parse_instant"]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPOCH = re.compile(r"^\d{1,15}$")
#: 9999-12-31T23:59:59Z, the last second ``datetime`` can hold
_MAX_EPOCH = 253_402_300_799
_SHOWN = 40
_EARLIEST_YEAR = 1970


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InputError(f"{name[:_SHOWN]!r} is not a time zone") from exc


def parse_instant(text: str, what: str, *, zone: str, allow_epoch: bool = False) -> dt.datetime:
    """The moment ``text`` names, in UTC (see the module docstring for the rules).

    ``what`` names the option or column in the error (``--received-at``).
    """
    value = text.strip()
    shown = value[:_SHOWN] + ("..." if len(value) > _SHOWN else "")
    if not value:
        raise InputError(f"{what} is empty")
    if allow_epoch and _EPOCH.match(value):
        seconds = int(value)
        if seconds > _MAX_EPOCH:
            raise InputError(f"{what} {shown!r} is not a plausible time (seconds since 1970)")
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    if _DATE_ONLY.match(value):
        raise InputError(
            f"{what} {shown!r} is a date without a time; give the time too "
            "(e.g. 2026-11-02T10:15:00Z)"
        )
    try:
        moment = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise InputError(
            f"{what} {shown!r} is not an ISO 8601 time (e.g. 2026-11-02T10:15:00Z)"
        ) from exc
    if moment.tzinfo is None:
        # a local time as people write it: the organisation's, not UTC (issue 8 item 5)
        moment = moment.replace(tzinfo=_zone(zone))
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+05:00 and the like
        raise InputError(f"{what} {shown!r} is not a plausible time") from exc
    if utc.year < _EARLIEST_YEAR:
        raise InputError(f"{what} {shown!r} is before {_EARLIEST_YEAR}: not a plausible time")
    return utc
