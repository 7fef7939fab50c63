"""``normalise_with_zones`` agrees with ``normalise`` + phonenumbers' zones (issue 11)."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.consent.windows import _lookup_zones
from dialer.errors import NumberError
from dialer.numbers import normalise, normalise_with_zones

REGIONS = ("US", "CA", "GB", "IT", "DE", "MX", "PR", "FR", "AU", "JM")

_digits = st.text(alphabet="0123456789", min_size=0, max_size=14)
_noise = st.sampled_from(["", " ", "-", ".", "(", ")", "+", "+1", "1", "x", " ext ", "0", "00"])
_shaped = st.builds(
    lambda parts: "".join(parts),
    st.lists(st.one_of(_digits, _noise), min_size=1, max_size=6),
)
_nanp = st.builds(
    lambda a, b, c, style: style.format(a, b, c),
    st.integers(100, 999),
    st.integers(0, 999),
    st.integers(0, 9999),
    st.sampled_from(
        [
            "({0}) {1:03d}-{2:04d}",
            "{0}-{1:03d}-{2:04d}",
            "{0}.{1:03d}.{2:04d}",
            "{0}{1:03d}{2:04d}",
            "+1{0}{1:03d}{2:04d}",
            "1 {0} {1:03d} {2:04d}",
            "({0}){1:03d}{2:04d}",
            "{0} {1:03d} {2:04d} x12",
        ]
    ),
)


def _reference(raw: str, region: str) -> tuple[str, tuple[str, ...]] | str:
    try:
        e164 = normalise(raw, region)
    except NumberError as exc:
        return str(exc)
    return e164, _lookup_zones(e164)


def _fast(raw: str, region: str) -> tuple[str, tuple[str, ...]] | str:
    try:
        return normalise_with_zones(raw, region)
    except NumberError as exc:
        return str(exc)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(_nanp, _shaped, st.text(max_size=20)), region=st.sampled_from(REGIONS))
def test_c12_fast_normalise_agrees_with_the_reference(raw: str, region: str) -> None:
    assert _fast(raw, region) == _reference(raw, region)


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_c12_every_region_example_number_agrees(region: str) -> None:
    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        for fmt in (
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        ):
            raw = phonenumbers.format_number(example, fmt)
            assert _fast(raw, region) == _reference(raw, region)
