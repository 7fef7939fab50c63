"""Template placeholders, per-contact rendering and the ready templates (pure)."""

from __future__ import annotations

import pytest

from dialer.audio.templates import (
    READY_TEMPLATES,
    Template,
    ready_template,
    render,
    speakable,
    template_fields,
)
from dialer.errors import InputError


def test_fields_are_found() -> None:
    text = "{student_name} was absent from {school} today"
    assert template_fields(text) == {"student_name", "school"}


@pytest.mark.parametrize(
    "text",
    ["{student.__class__}", "{names[0]}", "{date!r}", "{date:>20}", "{0}", "{", "{}"],
)
def test_only_plain_names_are_allowed(text: str) -> None:
    with pytest.raises(InputError):
        template_fields(text)


def test_render_fills_each_contact() -> None:
    text = "{student_name} was absent from {school} today"
    assert (
        render(text, {"student_name": "Maria", "school": "Lincoln High"}, contact="c-1")
        == "Maria was absent from Lincoln High today"
    )


def test_missing_or_blank_fields_name_field_and_contact() -> None:
    with pytest.raises(
        InputError, match=r"contact c-42 has no value for field.s. school, student_name"
    ):
        render("{student_name} at {school}", {"student_name": "  "}, contact="c-42")


def test_dates_and_times_become_words() -> None:
    assert speakable("2025-03-05", "en") == "Wednesday, March 5, 2025"
    assert speakable("2025-03-05", "es") == "miércoles 5 de marzo de 2025"
    assert speakable("14:30", "en") == "2 30 p.m."
    assert speakable("09:05", "en") == "9 oh 5 a.m."
    assert speakable("08:00", "en") == "8 a.m."
    assert speakable("2025-13-45", "en") == "2025-13-45"  # not a date: left alone
    assert speakable("Maria  Lopez", "en") == "Maria Lopez"


@pytest.mark.parametrize("name", ["attendance-absence", "school-closure", "appointment-reminder"])
def test_ready_templates_exist_in_english_and_spanish_with_the_same_fields(name: str) -> None:
    template = ready_template(name)
    assert set(template.texts) == {"en", "es"}
    assert template_fields(template.texts["en"]) == template_fields(template.texts["es"])
    values = {f: "x" for f in template.fields()}
    for lang in ("en", "es"):
        assert "{" not in render(template.texts[lang], values, contact="c-1", language=lang)


def test_template_language_fallback() -> None:
    template = READY_TEMPLATES["school-closure"]
    assert template.text_for("es-mx", "en")[0] == "es"
    assert template.text_for("fr", "en")[0] == "en"
    with pytest.raises(InputError, match="no text in 'fr'"):
        Template("t", {"es": "hola"}).text_for("fr", "en")


def test_unknown_ready_template() -> None:
    with pytest.raises(InputError, match="no ready template 'nope'"):
        ready_template("nope")
