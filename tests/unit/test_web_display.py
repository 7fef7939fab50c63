"""How the console shows times and report figures (dialer.web.ui.display)."""

from __future__ import annotations

import datetime as dt

import pytest

from dialer.audio.ffmpeg import _first_error
from dialer.web.ui.display import figure, label, local_time


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-12-02T09:22:16.244241Z", "2026-12-02 04:22 EST"),
        ("2026-08-15T04:00:00.000000Z", "2026-08-15 00:00 EDT"),
        (dt.datetime(2026, 12, 2, 9, 22, tzinfo=dt.UTC), "2026-12-02 04:22 EST"),
        (dt.datetime(2026, 12, 2, 9, 22), "2026-12-02 04:22 EST"),  # the store's naive UTC
        (None, "—"),
        ("", "—"),
        ("not a time", "not a time"),
    ],
)
def test_times_are_shown_in_the_organisations_zone(value: object, shown: str) -> None:
    assert local_time("America/New_York")(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        ({}, "none"),
        ({"school": 2, "emergency": 0}, "school 2, emergency 0"),
        ({"max": None, "median": 1.5}, "max —, median 1.5"),
        (True, "yes"),
        (0, "0"),
        ([], "none"),
    ],
)
def test_report_figures_read_as_words_not_python(value: object, shown: str) -> None:
    assert figure(value) == shown
    assert "None" not in figure(value) and "{" not in figure(value)


def test_figure_names_lose_their_underscores() -> None:
    assert label("calls_to_company_dnc") == "calls to company dnc"


def test_ffmpeg_errno_words_are_said_plainly() -> None:
    said = _first_error(b"[mp3 @ 0x1] Header missing\n/tmp/x/broken.mp3: Invalid argument\n")
    assert said == "its contents are not audio in a format we know"
    other = _first_error(b"Stream #0: Unsupported codec id 86018\n")
    assert other == "Stream #0: Unsupported codec id 86018"
