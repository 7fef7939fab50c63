"""C18: numbers are masked in every log line and error message."""

from __future__ import annotations

import io
import json

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from dialer.log import configure_logging
from dialer.masking import mask_number, mask_text


def test_mask_number_keeps_country_code_and_last_four() -> None:
    assert mask_number("+12025550123") == "+1******0123"
    assert mask_number("+442079460101") == "+4*******0101"


def test_mask_text_finds_numbers_written_any_way() -> None:
    text = "called +1 (202) 555-0123, then 202.555.0199 and 12025550100"
    masked = mask_text(text)
    for digits in ("5550123", "5550199", "5550100"):
        assert digits not in masked.replace(" ", "").replace("-", "").replace(".", "")
    assert "0123" in masked  # the last four stay, for staff


def test_mask_text_leaves_dates_times_and_small_numbers() -> None:
    text = "at 2026-11-23 12:00:00 attempt 3 of 5, cause 17, port 4573"
    assert mask_text(text) == text


@given(st.from_regex(r"\+1[2-9]\d{2}[2-9]\d{6}", fullmatch=True))
def test_no_e164_number_survives_masking(number: str) -> None:
    assert number[2:] not in mask_text(f"dialing {number} now")


def test_c18_log_lines_mask_numbers_in_every_field_console_and_json() -> None:
    for as_json in (False, True):
        out = io.StringIO()
        configure_logging("info", json=as_json, stream=out)
        log = structlog.get_logger("t")
        structlog.contextvars.bind_contextvars(call_id="abc")
        log.info(
            "dialing +12025550123",
            number="+12025550124",
            nested={"n": "2025550125"},
            as_int=12025550126,
        )
        structlog.contextvars.clear_contextvars()
        text = out.getvalue()
        for digits in ("5550123", "5550124", "5550125", "5550126"):
            assert digits not in text
        assert "abc" in text
        if as_json:
            assert json.loads(text)["call_id"] == "abc"


@pytest.mark.parametrize(
    "text",
    [
        "tel12025550123",
        "parent_2025550123",
        "id=S12025550123x",
        "phone:+12025550123;ext",
        "file contacts_12025550123_final.csv",
        "CALLER2025550123",
    ],
)
def test_c18_digit_runs_next_to_letters_or_underscores_are_masked(text: str) -> None:
    """Issue 8 item 3: a letter or underscore next to a number no longer hides it."""
    masked = mask_text(text)
    assert "2025550123"[:6] not in masked and "555012" not in masked, masked
    assert "0123" in masked


def test_dialer_ids_stay_whole() -> None:
    call_id = "3f2a1234567890ab4c5d6e7f80912345"
    number_hash = "ab" + "1234567" * 8 + "cd" * 3
    assert len(number_hash) == 64
    text = f"call {call_id} hash {number_hash} uuid 12345678-1234-4234-8234-123456789012"
    assert mask_text(text) == text
    # an id does not shield a number written right after it
    assert "5550123" not in mask_text(f"{call_id} +12025550123")


@given(
    st.from_regex(r"[A-Za-z_]{0,3}", fullmatch=True),
    st.from_regex(r"\+?1[2-9]\d{2}[2-9]\d{6}", fullmatch=True),
    st.from_regex(r"[A-Za-z_]{0,3}", fullmatch=True),
)
def test_no_number_survives_between_letters(before: str, number: str, after: str) -> None:
    digits = number.lstrip("+")
    assert digits[1:8] not in mask_text(f"{before}{number}{after}")
