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

from dialer.audio import templates, tts
from dialer.consent.model import Decision, Reason
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
    used, text = template.text_for(language, default_language)
    if tts.voice_for(used) is None:
        used, text = template.text_for(default_language, default_language)
    return used, text


def missing_fields(
    template: templates.Template, contact: Contact, default_language: str
) -> tuple[str, ...]:
    """Fields the contact's version of the template needs but the contact lacks (or has empty)."""
    _used, text = template_text(template, contact.language, default_language)
    needed = templates.template_fields(text, f"template {template.name!r}")
    return tuple(sorted(f for f in needed if not str(contact.fields.get(f, "")).strip()))


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
        used, text = template_text(template, contact.language, default_language)
        spoken = templates.render(text, contact.fields, contact=contact.external_id, language=used)
        if text_id(used, spoken) == wanted_text_id:
            return contact
    return None
