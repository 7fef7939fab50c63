"""Personalised messages: which template a campaign speaks and what a contact lacks for it.

Issue 14 item 5: a contact whose field is empty or missing for the template
(no ``student_name``, no ``date``) is *blocked from that campaign* with the
reason ``template-field-missing``, instead of hearing a gap. The runner asks
:func:`template_block` after the gate allowed the call; the preflight counts
the same contacts and lists every distinct rendered text. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache

from dialer.audio import templates, tts
from dialer.consent.model import Decision, Reason
from dialer.errors import AudioError
from dialer.model.campaign import MessageSpec
from dialer.model.contact import Contact

TEMPLATE_PREFIX = "template:"


def campaign_template(spec: MessageSpec) -> templates.Template | None:
    """The ready template the campaign's body speaks, or None for a recording."""
    name = template_name(spec.body)
    return templates.ready_template(name) if name is not None else None


def template_name(body: str) -> str | None:
    return body[len(TEMPLATE_PREFIX) :] if body.startswith(TEMPLATE_PREFIX) else None


def template_text(
    template: templates.Template, language: str, default_language: str
) -> tuple[str, str]:
    """(language, text) a contact of ``language`` hears: the same choice as resolve_segment."""
    return _version(template, language, default_language)[:2]


def _version(
    template: templates.Template, language: str, default_language: str
) -> tuple[str, str, tuple[str, ...]]:
    """(language used, text, the fields it needs, sorted)."""
    texts = tuple(sorted(template.texts.items()))
    return _version_of(template.name, texts, language, default_language)


@lru_cache(maxsize=256)
def _version_of(
    name: str, texts: tuple[tuple[str, str], ...], language: str, default_language: str
) -> tuple[str, str, tuple[str, ...]]:
    """Cached: the preflight and the runner ask for every contact, and a list speaks a
    handful of languages. The language is read the way resolve_segment reads it."""
    template = templates.Template(name, dict(texts))
    try:
        tag = tts.normalise_language(language)
    except AudioError:
        tag = default_language
    used, text = template.text_for(tag, default_language)
    if tts.voice_for(used) is None:
        used, text = template.text_for(default_language, default_language)
    return used, text, tuple(sorted(templates.template_fields(text, f"template {name!r}")))


def missing_fields(
    template: templates.Template, contact: Contact, default_language: str
) -> tuple[str, ...]:
    """Fields the contact's version of the template needs but the contact lacks (or has empty)."""
    needed = _version(template, contact.language, default_language)[2]
    values = contact.fields
    return tuple(f for f in needed if not str(values.get(f, "")).strip())


def rendered_text(
    template: templates.Template, contact: Contact, default_language: str
) -> tuple[str, str]:
    """(language, text) the contact hears, the fields filled in as ``templates.render``
    does (same words for dates and times); the contact must have every field."""
    used, text, needed = _version(template, contact.language, default_language)
    return used, text.format_map({f: _speakable(str(contact.fields[f]), used) for f in needed})


@lru_cache(maxsize=4096)
def _speakable(value: str, language: str) -> str:
    return templates.speakable(value, language)


def template_block(
    template: templates.Template | None, contact: Contact, default_language: str
) -> Decision | None:
    """Issue 14 item 5: a contact missing a template field is blocked, never called with a gap."""
    if template is None:
        return None
    missing = missing_fields(template, contact, default_language)
    if not missing:
        return None
    return Decision(
        False,
        Reason.TEMPLATE_FIELD_MISSING,
        f"template {template.name!r}: no value for {', '.join(missing)}",
        False,
    )


def text_id(language: str, text: str) -> str:
    """A short, stable id for one rendered text (``recordings preview --text ID``)."""
    return hashlib.sha256(f"{language}\n{text}".encode()).hexdigest()[:10]


def contact_hearing(
    template: templates.Template,
    contacts: Iterable[Contact],
    wanted_text_id: str,
    default_language: str,
) -> Contact | None:
    """The first contact who hears the rendered text ``wanted_text_id`` (preflight's ids)."""
    for contact in contacts:
        if missing_fields(template, contact, default_language):
            continue
        if text_id(*rendered_text(template, contact, default_language)) == wanted_text_id:
            return contact
    return None
