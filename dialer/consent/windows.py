"""Calling windows in the called party's local time (COMPLIANCE.md C12).

Rules stated once, implemented below:

* The callee's time zones are the ones ``phonenumbers`` maps the number to
  (``phonenumbers.timezone.time_zones_for_number``). A number may map to
  several zones (US area code 208 spans Boise and Los Angeles; toll-free
  numbers map to every North American zone): the window must hold in **all**
  of them, because we cannot know which one the callee is in (strictest
  reading, C12).
* A number phonenumbers cannot place (``Etc/Unknown``, or an unparsable
  number, or a zone name this machine's tz database lacks) is treated as
  being in the organisation's fallback zone.
* A window is the half-open local interval ``[start, end)``: a call at
  exactly ``end`` is outside. Local time comes from ``zoneinfo``, so DST
  transitions (the missing hour in spring, the repeated hour in autumn) are
  whatever the tz database says the wall clock shows at that UTC instant.

Everything here is pure; the phonenumbers and zoneinfo look-ups are cached
per number with ``functools.lru_cache`` because the gate runs before every
attempt (C2) and parsing a number costs ~70 µs, far more than the decision.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

from dialer.errors import ConfigError

UNKNOWN_ZONE = "Etc/Unknown"

#: How far ahead ``next_window_opening`` searches. A window that does not open
#: in all of a number's zones within 8 days never will (zone offsets repeat
#: daily apart from DST shifts of an hour or so).
SEARCH_HORIZON = dt.timedelta(days=8)

#: Sampling step used to find UTC-offset transitions; no zone changes its
#: offset twice within this span.
_OFFSET_STEP = dt.timedelta(minutes=30)

_UTC = dt.UTC

#: Resolved zones of one number: (zone name, ZoneInfo) pairs, fallback applied.
Zones = tuple[tuple[str, ZoneInfo], ...]


def _from_e164(e164: str) -> phonenumbers.PhoneNumber | None:
    """Build the number straight from normalised E.164, skipping the text parser.

    Numbers reach the gate already normalised (dialer.numbers), so splitting off
    the country code is all ``parse`` would do here, at twice the cost. Numbers
    whose national part starts with 0 (Italian-style leading zeros) go through
    the full parser, which records those zeros.
    """
    digits = e164[1:] if e164.startswith("+") else ""
    if not digits.isdigit():
        return None
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            if not national or national.startswith("0"):
                return None
            return phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    return None


def _lookup_zones(e164: str) -> tuple[str, ...]:
    number = _from_e164(e164)
    if number is None:
        try:
            number = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            return (UNKNOWN_ZONE,)
    zones = tuple(pn_timezone.time_zones_for_number(number))
    return zones or (UNKNOWN_ZONE,)


@lru_cache(maxsize=4096)
def zones_for(e164: str) -> tuple[str, ...]:
    """Time zone names phonenumbers gives for ``e164`` (``("Etc/Unknown",)`` if none)."""
    return _lookup_zones(e164)


@lru_cache(maxsize=64)
def zone_info(name: str) -> ZoneInfo:
    """A ``ZoneInfo``; an unknown name is a configuration error (only fallbacks get here)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"C12: unknown time zone {name!r} (organisation.timezone)") from exc


#: Per-number cache size. Entries share their zone tuples (see ``_resolve``), so
#: one costs ~230 bytes: 2**17 numbers ≈ 30 MB, enough for a large district's
#: whole list to stay cached across retries.
NUMBER_CACHE_SIZE = 1 << 17


@lru_cache(maxsize=NUMBER_CACHE_SIZE)
def resolved_zones(e164: str, fallback: str) -> Zones:
    """The zones the window must hold in: unknown ones replaced by ``fallback``, deduplicated."""
    return _resolve(_lookup_zones(e164), fallback)


def callee_zones(e164: str, stored: tuple[str, ...], fallback: str) -> Zones:
    """The zones the window must hold in, from the zone names stored with the
    contact at import (issue 11: nothing is looked up per number at dial time),
    or from the number itself for contacts stored without them."""
    if stored:
        return _resolve(stored, fallback)
    return resolved_zones(e164, fallback)


def warm_zone_cache(numbers: list[str], fallback: str) -> int:
    """Resolve the zones of ``numbers`` ahead of time (as many as the cache holds)."""
    chosen = numbers[:NUMBER_CACHE_SIZE]
    for e164 in chosen:
        resolved_zones(e164, fallback)
    return len(chosen)


@lru_cache(maxsize=4096)
def _resolve(names: tuple[str, ...], fallback: str) -> Zones:
    out: dict[str, ZoneInfo] = {}
    for name in names:
        info = _known_zone(name) if name != UNKNOWN_ZONE else None
        if info is None:
            name, info = fallback, zone_info(fallback)
        out.setdefault(name, info)
    return tuple(out.items())


@lru_cache(maxsize=1024)
def _known_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # phonenumbers knows a zone this machine's tz database lacks: fall back
        return None


def first_zone_outside(
    zones: Zones, start: dt.time, end: dt.time, now: dt.datetime
) -> tuple[str, dt.datetime] | None:
    """The first zone whose local time at ``now`` is outside ``[start, end)``, or None.

    The gate's hot path: one ``astimezone`` per zone, no string formatting.
    """
    for name, info in zones:
        local = now.astimezone(info)
        if not start <= local.time() < end:
            return name, local
    return None


def describe_outside(name: str, local: dt.datetime, start: dt.time, end: dt.time) -> str:
    """Human detail for an outside-window decision (never contains the number)."""
    return f"local time {local:%H:%M} in {name}, window {start:%H:%M}-{end:%H:%M}"


def window_holds(
    e164: str, start: dt.time, end: dt.time, now: dt.datetime, fallback: str
) -> tuple[bool, str]:
    """Whether ``now`` is inside ``[start, end)`` in every zone of ``e164``, with a detail."""
    zones = resolved_zones(e164, fallback)
    outside = first_zone_outside(zones, start, end, now)
    if outside is not None:
        return False, describe_outside(outside[0], outside[1], start, end)
    locals_ = ", ".join(f"{now.astimezone(info):%H:%M} in {name}" for name, info in zones)
    return True, f"local time {locals_}, window {start:%H:%M}-{end:%H:%M}"


def next_window_opening(
    e164: str,
    start: dt.time,
    end: dt.time,
    now: dt.datetime,
    fallback: str,
    stored: tuple[str, ...] = (),
) -> dt.datetime | None:
    """The earliest UTC instant >= ``now`` at which the window holds in all zones of ``e164``.

    Returns ``now`` (in UTC) when the window already holds, and None when it
    does not open within ``SEARCH_HORIZON`` (an empty window, or zones too far
    apart for the window to hold in all of them at once: the scheduler should
    then give up with ``outside-window`` rather than burn attempts).

    Exact, not sampled: whether the window holds can only change at an instant
    where some zone's wall clock reaches ``start`` or ``end``, or where a zone
    changes its UTC offset (DST). We list all those instants in the horizon and
    test them in order; on a spring-forward day a ``start`` that falls in the
    skipped hour opens at the transition itself, which the offset list covers.
    """
    now_utc = now.astimezone(_UTC)
    zones = callee_zones(e164, stored, fallback)
    if first_zone_outside(zones, start, end, now_utc) is None:
        return now_utc
    limit = now_utc + SEARCH_HORIZON
    candidates: set[dt.datetime] = set()
    for _name, info in zones:
        candidates.update(_wall_clock_instants(info, start, now_utc, limit))
        candidates.update(_offset_transitions(info, now_utc, limit))
    for instant in sorted(c for c in candidates if now_utc < c <= limit):
        if first_zone_outside(zones, start, end, instant) is None:
            return instant
    return None


def _wall_clock_instants(
    info: ZoneInfo, wall: dt.time, lo: dt.datetime, hi: dt.datetime
) -> list[dt.datetime]:
    """UTC instants at which ``info``'s wall clock shows ``wall`` between ``lo`` and ``hi``.

    Both folds are tried so a repeated (fall-back) hour yields both instants;
    a skipped (spring-forward) wall time yields an instant that fails the
    window test and is harmless, the real opening being a transition instant.
    """
    out = []
    day = lo.astimezone(info).date() - dt.timedelta(days=1)
    last = hi.astimezone(info).date() + dt.timedelta(days=1)
    while day <= last:
        for fold in (0, 1):
            local = dt.datetime.combine(day, wall, tzinfo=info).replace(fold=fold)
            out.append(local.astimezone(_UTC))
        day += dt.timedelta(days=1)
    return out


def _offset_transitions(info: ZoneInfo, lo: dt.datetime, hi: dt.datetime) -> list[dt.datetime]:
    """UTC instants in ``[lo, hi]`` where ``info`` changes its UTC offset (to the second)."""
    out = []
    t = lo.replace(microsecond=0)
    offset = t.astimezone(info).utcoffset()
    while t < hi:
        nxt = t + _OFFSET_STEP
        nxt_offset = nxt.astimezone(info).utcoffset()
        if nxt_offset != offset:
            # bisect on whole seconds (tz transitions happen on whole seconds):
            # invariant: offset unchanged at a, changed at b
            a, b = 0, int(_OFFSET_STEP.total_seconds())
            while b - a > 1:
                mid = (a + b) // 2
                if (t + dt.timedelta(seconds=mid)).astimezone(info).utcoffset() == offset:
                    a = mid
                else:
                    b = mid
            out.append(t + dt.timedelta(seconds=b))
            offset = nxt_offset
        t = nxt
    return out
