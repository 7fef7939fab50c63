"""Message templates filled with per-contact fields (issue 4, "Personalisation").

A template is text per language with ``{field}`` placeholders, e.g.
``"{student_name} was absent from {school} today"``. Only plain names are
allowed between the braces: no attribute access, indexing, conversions or
format specs, so an admin-written template can never reach into Python
objects the way ``str.format`` would allow. Rendering is pure: it returns the
text; tts.render_text speaks it.

Values that look like ISO dates (``2025-03-05``) or 24-hour times
(``14:30``) are turned into words for the contact's language, because
espeak-ng reads ``2025-03-05`` as a subtraction.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from dialer.errors import InputError

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")

_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
}
_WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
}


@dataclass(frozen=True)
class Template:
    """Text per language (primary subtag → text) with ``{field}`` placeholders."""

    name: str
    texts: Mapping[str, str]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.texts:
            raise InputError(f"template {self.name!r} has no text")
        for lang, text in self.texts.items():
            template_fields(text, f"template {self.name!r} ({lang})")

    def fields(self) -> frozenset[str]:
        """Every field any language version uses."""
        out: set[str] = set()
        for lang, text in self.texts.items():
            out |= template_fields(text, f"template {self.name!r} ({lang})")
        return frozenset(out)

    def text_for(self, language: str, default_language: str) -> tuple[str, str]:
        """(language used, text): the contact's language, else the default one."""
        for lang in (language, language.split("-")[0], default_language):
            if lang in self.texts:
                return lang, self.texts[lang]
        raise InputError(
            f"template {self.name!r} has no text in {language!r} nor in the default "
            f"language {default_language!r}"
        )


def template_fields(text: str, what: str = "template") -> frozenset[str]:
    """Names of the placeholders in ``text``; InputError on anything but ``{name}``."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InputError(f"{what}: malformed placeholder ({exc})") from exc
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not _FIELD.match(field) or spec or conversion:
            raise InputError(
                f"{what}: placeholder {{{field}}} is not allowed; use plain names like "
                "{student_name}"
            )
        names.add(field)
    return frozenset(names)


def render(
    text: str,
    values: Mapping[str, str],
    *,
    contact: str,
    language: str = "en",
    what: str = "template",
) -> str:
    """Fill ``text`` with ``values``; InputError naming every missing field and the contact.

    ``contact`` is an identifier for the message (a contact id, never a
    phone number: the error reaches logs and the CLI, C18).
    """
    needed = template_fields(text, what)
    missing = sorted(f for f in needed if not str(values.get(f, "")).strip())
    if missing:
        raise InputError(
            f"{what}: contact {contact} has no value for field(s) {', '.join(missing)}"
        )
    spoken = {f: speakable(str(values[f]), language) for f in needed}
    return text.format_map(spoken)


def speakable(value: str, language: str) -> str:
    """Make a field value readable by espeak-ng: ISO dates and HH:MM times into words."""
    value = " ".join(value.split())
    lang = language.split("-")[0]
    if _ISO_DATE.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return value
        return _date_words(day, lang)
    match = _TIME.match(value)
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return _time_words(int(match[1]), int(match[2]), lang)
    return value


def _date_words(day: dt.date, lang: str) -> str:
    if lang == "es":
        return (
            f"{_WEEKDAYS['es'][day.weekday()]} {day.day} de {_MONTHS['es'][day.month - 1]}"
            f" de {day.year}"
        )
    return f"{_WEEKDAYS['en'][day.weekday()]}, {_MONTHS['en'][day.month - 1]} {day.day}, {day.year}"


def _time_words(hour: int, minute: int, lang: str) -> str:
    if lang == "es":
        return f"{hour}:{minute:02d}" if minute else f"{hour} en punto"
    suffix = "a.m." if hour < 12 else "p.m."
    twelve = hour % 12 or 12
    if minute == 0:
        return f"{twelve} {suffix}"
    return f"{twelve} {minute:02d} {suffix}" if minute >= 10 else f"{twelve} oh {minute} {suffix}"


#: ready templates (issue 4): purposes per COMPLIANCE.md's table
READY_TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            name="attendance-absence",
            description="unexcused absence (purpose emergency, category attendance; FCC 16-88)",
            texts={
                "en": (
                    "{student_name} was absent from {school} on {date} without an excuse. "
                    "Please contact the school office."
                ),
                "es": (
                    "{student_name} faltó a {school} el {date} sin justificación. "
                    "Por favor, comuníquese con la oficina de la escuela."
                ),
            },
        ),
        Template(
            name="school-closure",
            description="emergency school closure (purpose emergency, category closure)",
            texts={
                "en": "{school} will be closed on {date} because of {reason}.",
                "es": "{school} estará cerrada el {date} debido a {reason}.",
            },
        ),
        Template(
            name="appointment-reminder",
            description="law-firm appointment reminder (purpose informational)",
            texts={
                "en": (
                    "This is a reminder for {client_name}: you have an appointment with "
                    "{attorney} on {date} at {time}."
                ),
                "es": (
                    "Este es un recordatorio para {client_name}: tiene una cita con "
                    "{attorney} el {date} a las {time}."
                ),
            },
        ),
    )
}


def ready_template(name: str) -> Template:
    try:
        return READY_TEMPLATES[name]
    except KeyError:
        raise InputError(
            f"no ready template {name!r} (have: {', '.join(sorted(READY_TEMPLATES))})"
        ) from None
