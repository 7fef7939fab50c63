"""Unit tests of calling windows in the callee's local time (C12).

Pure functions over phonenumbers' time zone data and the tz database; nothing
to mock. Expected instants are written out by hand from the published US DST
dates (2026-03-08 and 2026-11-01, at 02:00 local).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.consent.windows import (
    _resolve,
    next_window_opening,
    resolved_zones,
    window_holds,
    zones_for,
)
from dialer.errors import ConfigError

UTC = dt.UTC
NY = "+12125550123"
IDAHO_208 = "+12085550123"  # America/Boise + America/Los_Angeles
ND_701 = "+17015550123"  # America/Denver + America/North_Dakota/Center
UNKNOWN = "+15555550123"  # not a valid number: Etc/Unknown
FALLBACK = "America/New_York"
EIGHT, NINE_PM = dt.time(8), dt.time(21)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def test_c12_zones_for_known_numbers() -> None:
    assert zones_for(NY) == ("America/New_York",)
    assert zones_for(IDAHO_208) == ("America/Boise", "America/Los_Angeles")
    assert zones_for(UNKNOWN) == ("Etc/Unknown",)
    assert zones_for("not a number") == ("Etc/Unknown",)
    assert zones_for("+442079460000") == ("Europe/London",)


def test_c12_unknown_zone_resolves_to_fallback() -> None:
    assert [name for name, _ in resolved_zones(UNKNOWN, "Europe/Paris")] == ["Europe/Paris"]
    assert [name for name, _ in resolved_zones(NY, "Europe/Paris")] == ["America/New_York"]
    with pytest.raises(ConfigError, match="C12"):
        resolved_zones(UNKNOWN, "Mars/Olympus_Mons")
    # a zone phonenumbers names but this tz database lacks also falls back, once
    resolved = _resolve(("Nowhere/Atlantis", "Europe/Paris", "America/Chicago"), "Europe/Paris")
    assert [name for name, _ in resolved] == ["Europe/Paris", "America/Chicago"]


def test_c12_window_is_half_open() -> None:
    # 2026-06-10, New York is UTC-4
    assert window_holds(NY, EIGHT, NINE_PM, utc(2026, 6, 10, 12), FALLBACK)[0]
    assert not window_holds(NY, EIGHT, NINE_PM, utc(2026, 6, 10, 11, 59, 59), FALLBACK)[0]
    assert window_holds(NY, EIGHT, NINE_PM, utc(2026, 6, 11, 0, 59, 59), FALLBACK)[0]
    ok, detail = window_holds(NY, EIGHT, NINE_PM, utc(2026, 6, 11, 1), FALLBACK)
    assert not ok
    assert detail == "local time 21:00 in America/New_York, window 08:00-21:00"


def test_c12_two_zone_number_must_be_inside_in_both() -> None:
    at = utc(2026, 1, 14, 15, 30)  # Boise 08:30 MST, Los Angeles 07:30 PST
    ok, detail = window_holds(IDAHO_208, EIGHT, NINE_PM, at, FALLBACK)
    assert not ok
    assert "America/Los_Angeles" in detail
    ok, detail = window_holds(IDAHO_208, EIGHT, NINE_PM, at + dt.timedelta(hours=1), FALLBACK)
    assert ok
    assert "09:30 in America/Boise" in detail and "08:30 in America/Los_Angeles" in detail
    # North Dakota 701: Mountain and Central
    at = utc(2026, 1, 14, 14, 30)  # Denver 07:30, Center 08:30
    assert not window_holds(ND_701, EIGHT, NINE_PM, at, FALLBACK)[0]


def test_c12_dst_spring_forward_edge() -> None:
    """2026-03-08 02:00 EST -> 03:00 EDT; 08:00 EDT is 12:00 UTC."""
    assert not window_holds(NY, EIGHT, NINE_PM, utc(2026, 3, 8, 11, 59, 59), FALLBACK)[0]
    assert window_holds(NY, EIGHT, NINE_PM, utc(2026, 3, 8, 12), FALLBACK)[0]
    # a window starting inside the skipped hour opens at the transition (03:00 EDT)
    start = dt.time(2, 30)
    assert window_holds(NY, start, NINE_PM, utc(2026, 3, 8, 7), FALLBACK)[0]
    assert not window_holds(NY, start, NINE_PM, utc(2026, 3, 8, 6, 59, 59), FALLBACK)[0]


def test_c12_dst_fall_back_edge() -> None:
    """2026-11-01 02:00 EDT -> 01:00 EST; 08:00 EST is 13:00 UTC."""
    assert not window_holds(NY, EIGHT, NINE_PM, utc(2026, 11, 1, 12, 59, 59), FALLBACK)[0]
    assert window_holds(NY, EIGHT, NINE_PM, utc(2026, 11, 1, 13), FALLBACK)[0]


def test_c12_next_opening_same_day_next_day_and_inside() -> None:
    inside = utc(2026, 6, 10, 15, 17, 3)
    assert next_window_opening(NY, EIGHT, NINE_PM, inside, FALLBACK) == inside
    early = utc(2026, 6, 10, 9)  # 05:00 EDT
    assert next_window_opening(NY, EIGHT, NINE_PM, early, FALLBACK) == utc(2026, 6, 10, 12)
    late = utc(2026, 6, 11, 1)  # 21:00 EDT exactly: closed
    assert next_window_opening(NY, EIGHT, NINE_PM, late, FALLBACK) == utc(2026, 6, 11, 12)
    # an aware non-UTC 'now' gives a UTC answer
    local_now = early.astimezone(dt.timezone(dt.timedelta(hours=2)))
    got = next_window_opening(NY, EIGHT, NINE_PM, local_now, FALLBACK)
    assert got == utc(2026, 6, 10, 12) and got is not None and got.tzinfo is UTC


def test_c12_next_opening_across_dst_days() -> None:
    # Saturday night before spring-forward: opens Sunday 08:00 EDT = 12:00 UTC
    assert next_window_opening(NY, EIGHT, NINE_PM, utc(2026, 3, 8, 2), FALLBACK) == utc(
        2026, 3, 8, 12
    )
    # Saturday night before fall-back: opens Sunday 08:00 EST = 13:00 UTC
    assert next_window_opening(NY, EIGHT, NINE_PM, utc(2026, 11, 1, 2), FALLBACK) == utc(
        2026, 11, 1, 13
    )
    # start in the skipped hour: opens at the transition instant itself
    assert next_window_opening(NY, dt.time(2, 30), NINE_PM, utc(2026, 3, 8, 5), FALLBACK) == (
        utc(2026, 3, 8, 7)
    )
    # start in the repeated hour: the first 01:30 (EDT) = 05:30 UTC
    assert next_window_opening(NY, dt.time(1, 30), NINE_PM, utc(2026, 11, 1, 4), FALLBACK) == (
        utc(2026, 11, 1, 5, 30)
    )


def test_c12_next_opening_two_zones_waits_for_the_later_zone() -> None:
    # Boise opens 08:00 MST = 15:00 UTC; Los Angeles 08:00 PST = 16:00 UTC
    got = next_window_opening(IDAHO_208, EIGHT, NINE_PM, utc(2026, 1, 14, 10), FALLBACK)
    assert got == utc(2026, 1, 14, 16)


def test_c12_next_opening_never_for_empty_or_disjoint_windows() -> None:
    assert next_window_opening(NY, NINE_PM, EIGHT, utc(2026, 6, 10), FALLBACK) is None
    # Guam (UTC+10) and Pago Pago (UTC-11) are 21 h apart: a 1-hour window never overlaps
    toll_free = "+18005550123"
    assert "Pacific/Guam" in zones_for(toll_free)
    assert (
        next_window_opening(toll_free, dt.time(9), dt.time(10), utc(2026, 6, 10), FALLBACK) is None
    )


NUMBERS = st.sampled_from([NY, IDAHO_208, ND_701, UNKNOWN, "+442079460000", "+61212345678"])
INSTANTS = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(UTC)
)
WINDOWS = st.sampled_from(
    [(EIGHT, NINE_PM), (EIGHT, dt.time(20)), (dt.time(2, 30), dt.time(3, 30)), (dt.time(1), EIGHT)]
)


@settings(max_examples=40, deadline=None)
@given(number=NUMBERS, now=INSTANTS, window=WINDOWS)
def test_c12_next_opening_is_the_earliest_instant(
    number: str, now: dt.datetime, window: tuple[dt.time, dt.time]
) -> None:
    """The opening holds, and no whole minute between now and it holds (brute force).

    None (never opens) is checked by sampling the whole horizon every 10 minutes.
    """
    start, end = window
    got = next_window_opening(number, start, end, now, FALLBACK)
    if got is None:
        for k in range(8 * 24 * 6):
            t = now + dt.timedelta(minutes=10 * k)
            assert not window_holds(number, start, end, t, FALLBACK)[0], t
        return
    assert got >= now
    assert window_holds(number, start, end, got, FALLBACK)[0]
    if got > now:
        assert not window_holds(number, start, end, got - dt.timedelta(seconds=1), FALLBACK)[0]
    t = now
    while t < got:
        assert not window_holds(number, start, end, t, FALLBACK)[0], t
        t += dt.timedelta(minutes=1)


def test_c12_fast_zone_lookup_agrees_with_the_full_parser_for_every_region() -> None:
    """The E.164 shortcut gives phonenumbers' own answer for every example number."""
    import phonenumbers
    from phonenumbers import PhoneNumberType
    from phonenumbers import timezone as pn_timezone

    from dialer.consent.windows import _lookup_zones

    checked = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (
            PhoneNumberType.FIXED_LINE,
            PhoneNumberType.MOBILE,
            PhoneNumberType.TOLL_FREE,
            PhoneNumberType.VOIP,
            PhoneNumberType.UAN,
        ):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            full = tuple(pn_timezone.time_zones_for_number(phonenumbers.parse(e164))) or (
                "Etc/Unknown",
            )
            assert _lookup_zones(e164) == full, (region, kind, e164)
            checked += 1
    assert checked > 800
