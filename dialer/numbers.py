"""Phone numbers in, E.164 out (phonenumbers, Google's libphonenumber port).

``normalise`` is the reference. ``normalise_with_zones`` gives the same
answer (or the same error) plus the number's time zones, at about half the
cost: imports run it once per row of a million-row export, and the zones are
stored with the contact so neither campaign creation nor the gate resolves
them again (issue 11, C12). Tests prove both agree for random input.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType
from phonenumbers import phonenumberutil as _pnu
from phonenumbers import timezone as pn_timezone
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    format_number,
    is_number_type_geographical,
    is_possible_number,
    national_significant_number,
)
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from dialer.errors import NumberError
from dialer.masking import mask_text

#: what phonenumbers answers for a number it cannot place (see consent/windows.py)
UNKNOWN_ZONE = "Etc/Unknown"

#: regions sharing country code 1 (NANP): a plain 10-digit number is national there
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(1, ()))
# The two shapes most SIS exports use. For them ``phonenumbers.parse`` does
# nothing but drop the punctuation (no national prefix, no extension, no
# letters, ASCII digits only), so the number is built directly.
_NANP_E164 = re.compile(r"\+1([2-9][0-9]{9})", re.ASCII)
_NANP_NATIONAL = re.compile(r"\(?([2-9][0-9]{2})\)?[ .-]?([0-9]{3})[ .-]?([0-9]{4})", re.ASCII)


def normalise(raw: str, default_region: str = "US") -> str:
    """Return the E.164 form of ``raw`` or raise ``NumberError`` saying why.

    The error message masks the number itself (C18): it ends up in logs.
    """
    text = raw.strip()
    if not text:
        raise NumberError("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError(f"not a phone number ({mask_text(text)}): {exc._msg}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise NumberError(f"impossible phone number {mask_text(text)} (wrong length)")
    if not phonenumbers.is_valid_number(parsed):
        raise NumberError(f"invalid phone number {mask_text(text)} (no such number range)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parse_fast(text: str, default_region: str) -> PhoneNumber:
    match = _NANP_E164.fullmatch(text)
    if match is not None:
        return PhoneNumber(country_code=1, national_number=int(match[1]))
    if default_region in _NANP_REGIONS:
        match = _NANP_NATIONAL.fullmatch(text)
        if match is not None:
            return PhoneNumber(country_code=1, national_number=int("".join(match.groups())))
    return phonenumbers.parse(text, default_region)


def normalise_with_zones(raw: str, default_region: str = "US") -> tuple[str, tuple[str, ...]]:
    """``(normalise(raw), zones)``: the same E.164 and errors, plus phonenumbers' zones.

    ``is_valid_number`` and ``time_zones_for_number`` both work out the
    number's type (the costly part: every NANP region's patterns are tried);
    here it is worked out once. Valid means a known type, exactly as
    ``is_valid_number`` decides. Zones are phonenumbers' own names;
    ``("Etc/Unknown",)`` when it cannot place the number (C12 then uses the
    organisation's zone).
    """
    text = raw.strip()
    if not text:
        raise NumberError("phone number is empty")
    try:
        parsed = _parse_fast(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError(f"not a phone number ({mask_text(text)}): {exc._msg}") from exc
    if not is_possible_number(parsed):
        raise NumberError(f"impossible phone number {mask_text(text)} (wrong length)")
    kind = number_kind(parsed)
    if kind == PhoneNumberType.UNKNOWN:
        raise NumberError(f"invalid phone number {mask_text(text)} (no such number range)")
    e164 = format_number(parsed, PhoneNumberFormat.E164)
    return e164, zones_of(parsed, kind, e164)


#: phonenumbers' per-metadata type test (private, hence the test that compares
#: every result with the public functions)
_type_in: Callable[[str, PhoneMetadata], int] = _pnu._number_type_helper
_UNKNOWN_KIND = PhoneNumberType.UNKNOWN


def number_kind(parsed: PhoneNumber) -> int:
    """``phonenumbers.number_type``, computed once instead of twice.

    ``number_type`` first finds the region (``region_code_for_number``), which
    for a shared country code like +1 tests the number's type against each
    region in turn, then tests the type again for the region found. When the
    region was found by its type, that type is the answer.
    """
    code = parsed.country_code or 0
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code)
    if regions is None:
        return _UNKNOWN_KIND
    national = national_significant_number(parsed)
    region: str | None = regions[0] if len(regions) == 1 else None
    if region is None:
        for candidate in regions:
            metadata = PhoneMetadata.metadata_for_region(candidate.upper(), None)
            if metadata is None:
                continue
            if metadata.leading_digits is not None:
                if re.match(metadata.leading_digits, national):
                    region = candidate
                    break
                continue
            kind = _type_in(national, metadata)
            if kind != _UNKNOWN_KIND:
                return kind
        if region is None:
            return _UNKNOWN_KIND
    found = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    return _UNKNOWN_KIND if found is None else _type_in(national, found)


def zones_of(parsed: PhoneNumber, kind: int, e164: str) -> tuple[str, ...]:
    """phonenumbers' ``time_zones_for_number`` given the type already known."""
    # same steps as phonenumbers.timezone.time_zones_for_number, minus number_type
    if not is_number_type_geographical(kind, parsed.country_code or 0):
        zones = pn_timezone._country_level_time_zones_for_number(parsed)
    else:
        zones = pn_timezone._UNKNOWN_TIME_ZONE_LIST
        for length in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
            found = TIMEZONE_DATA.get(e164[1 : 1 + length])
            if found is not None:
                zones = found
                break
    return tuple(zones) or (UNKNOWN_ZONE,)
