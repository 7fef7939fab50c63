"""Campaign messages: an ordered list of segments, resolved per contact to sound files.

The order a live message follows (issue 4, COMPLIANCE.md C8-C11)::

    identification (C8) → opt-out instruction "press 9" (C9) → [wrong number, press 8 (C16)]
        → body → callback number, digit by digit (C11) → [press star to repeat]

The voicemail version (an answering machine cannot press 9) replaces the
keypad instructions by the hotline instruction and the hotline number (C11)
and drops "press star". Each segment resolves, for one contact and
language, to a list of sound-file stems (paths without extension, as AGI
``STREAM FILE`` wants them). Which segments must be present and how close
the opt-out instruction follows the identification is checked by
validate.py; C10 (keypad 9 honoured during every segment) is the player's
job: it streams each stem with escape digits, see ``ESCAPE_DIGITS``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

import phonenumbers

from dialer.audio import prompts, templates, tts
from dialer.errors import MessageError, NotFoundError

#: digits a player must pass as STREAM FILE escape digits on every segment (C10, C16)
ESCAPE_DIGITS = "98*"

Variant = Literal["live", "voicemail"]


class SegmentKind(StrEnum):
    IDENTIFICATION = "identification"
    OPTOUT_INSTRUCTION = "optout-instruction"
    WRONG_NUMBER_INSTRUCTION = "wrong-number-instruction"
    HOTLINE_INSTRUCTION = "hotline-instruction"
    BODY = "body"
    CALLBACK = "callback"
    REPEAT_INSTRUCTION = "repeat-instruction"


#: what counts as "the opt-out instruction" for C9 in each variant
OPTOUT_KINDS: dict[str, SegmentKind] = {
    "live": SegmentKind.OPTOUT_INSTRUCTION,
    "voicemail": SegmentKind.HOTLINE_INSTRUCTION,
}


@dataclass(frozen=True)
class RecordingSource:
    """An imported recording: one converted stem per language."""

    name: str
    stems: Mapping[str, Path]
    #: the catalog version of each language's stem: messages staff read name the
    #: recording by name, language and version, never by its file on the server
    versions: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptSource:
    """A shipped (or operator-overridden) prompt, by name (prompts.py)."""

    name: str


@dataclass(frozen=True)
class TextSource:
    """Fixed text spoken by TTS, per language (e.g. the organisation's name)."""

    name: str
    texts: Mapping[str, str]


@dataclass(frozen=True)
class TemplateSource:
    """A template filled with the contact's fields, then spoken by TTS."""

    template: templates.Template


@dataclass(frozen=True)
class NumberSource:
    """An intro prompt followed by a phone number spoken digit by digit (C11)."""

    number: str
    intro_prompt: str


Source = RecordingSource | PromptSource | TextSource | TemplateSource | NumberSource


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    source: Source


@dataclass(frozen=True)
class Message:
    name: str
    variant: Variant
    segments: tuple[Segment, ...]

    def kinds(self) -> list[SegmentKind]:
        return [s.kind for s in self.segments]


@dataclass(frozen=True)
class ComposedMessage:
    live: Message
    voicemail: Message


def compose_message(
    name: str,
    *,
    identification: Source,
    body: Source,
    callback_number: str,
    hotline_number: str,
    optout: Source | None = None,
    wrong_number: bool = True,
    repeat: bool = True,
) -> ComposedMessage:
    """Build the live and voicemail versions of a campaign message in the required order."""
    ident = Segment(SegmentKind.IDENTIFICATION, identification)
    callback = Segment(SegmentKind.CALLBACK, NumberSource(callback_number, prompts.CALLBACK_INTRO))
    live = [
        ident,
        Segment(SegmentKind.OPTOUT_INSTRUCTION, optout or PromptSource(prompts.OPTOUT_INSTRUCTION)),
    ]
    if wrong_number:
        live.append(
            Segment(
                SegmentKind.WRONG_NUMBER_INSTRUCTION,
                PromptSource(prompts.WRONG_NUMBER_INSTRUCTION),
            )
        )
    live += [Segment(SegmentKind.BODY, body), callback]
    if repeat:
        live.append(
            Segment(SegmentKind.REPEAT_INSTRUCTION, PromptSource(prompts.REPEAT_INSTRUCTION))
        )
    voicemail = [
        ident,
        Segment(
            SegmentKind.HOTLINE_INSTRUCTION,
            NumberSource(hotline_number, prompts.HOTLINE_VOICEMAIL),
        ),
        Segment(SegmentKind.BODY, body),
        callback,
    ]
    return ComposedMessage(
        live=Message(name, "live", tuple(live)),
        voicemail=Message(name, "voicemail", tuple(voicemail)),
    )


# --- resolution ----------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """What resolution needs of a contact: an id (never the number), language, fields."""

    id: str
    language: str = prompts.DEFAULT_LANGUAGE
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolveContext:
    library: prompts.PromptLibrary
    tts_cache_dir: Path
    #: keys the TTS cache's file names (Sealer.name_key("tts")): no name is guessable
    tts_name_key: bytes
    default_language: str = prompts.DEFAULT_LANGUAGE
    #: region for numbers written without a country code (settings.organisation)
    default_region: str = "US"


@dataclass(frozen=True)
class ResolvedSegment:
    kind: SegmentKind
    #: human description used in reports and errors, e.g. "recording 'org-name' (es,
    #: version 2)"
    label: str
    stems: tuple[Path, ...]
    language: str
    #: set when the contact's language was not available: "es → en"
    fallback: str | None = None


@dataclass(frozen=True)
class ResolvedMessage:
    message: str
    variant: Variant
    contact_id: str
    language: str
    segments: tuple[ResolvedSegment, ...]

    def stems(self) -> list[Path]:
        """Every sound file, in playing order."""
        return [stem for seg in self.segments for stem in seg.stems]

    @property
    def fallbacks(self) -> list[str]:
        """One line per segment that fell back to the default language (for the report)."""
        return [f"{s.kind}: {s.label} {s.fallback}" for s in self.segments if s.fallback]


def resolve_message(
    message: Message,
    contact: Contact,
    ctx: ResolveContext,
    *,
    through: SegmentKind | None = None,
) -> ResolvedMessage:
    """Sound files ``contact`` hears, in order (up to and including ``through``).

    Renders TTS and templates into ``ctx.tts_cache_dir`` as needed (blocking;
    cached per distinct text). Raises InputError (missing template field),
    NotFoundError (no recording or prompt in any usable language) or
    AudioError (TTS failed).
    """
    lang = tts.normalise_language(contact.language)
    out: list[ResolvedSegment] = []
    for segment in message.segments:
        out.append(resolve_segment(segment, contact, lang, ctx))
        if segment.kind == through:
            break
    return ResolvedMessage(message.name, message.variant, contact.id, lang, tuple(out))


def resolve_segment(
    segment: Segment, contact: Contact, language: str, ctx: ResolveContext
) -> ResolvedSegment:
    src = segment.source
    default = tts.normalise_language(ctx.default_language)
    if isinstance(src, RecordingSource):
        used = _pick(src.stems, language, default, f"recording {src.name!r}")
        stem, version = src.stems[used], src.versions.get(used)
        label = f"recording {src.name!r}"
        return _seg(segment.kind, label, (stem,), language, used, version=version)
    if isinstance(src, PromptSource):
        found = ctx.library.resolve(src.name, language)
        return _seg(segment.kind, f"prompt {src.name!r}", (found.stem,), language, found.language)
    if isinstance(src, TextSource):
        used = _pick(src.texts, language, default, f"text {src.name!r}")
        wav = tts.render_text(src.texts[used], used, ctx.tts_cache_dir, name_key=ctx.tts_name_key)
        return _seg(segment.kind, f"text {src.name!r}", (wav.with_suffix(""),), language, used)
    if isinstance(src, TemplateSource):
        used, text = src.template.text_for(language, default)
        if tts.voice_for(used) is None:
            used, text = src.template.text_for(default, default)
        spoken = templates.render(
            text,
            contact.fields,
            contact=contact.id,
            language=used,
            what=f"template {src.template.name!r}",
        )
        wav = tts.render_text(spoken, used, ctx.tts_cache_dir, name_key=ctx.tts_name_key)
        label = f"template {src.template.name!r}"
        return _seg(segment.kind, label, (wav.with_suffix(""),), language, used)
    return _resolve_number(segment.kind, src, language, ctx)


def _resolve_number(
    kind: SegmentKind, src: NumberSource, language: str, ctx: ResolveContext
) -> ResolvedSegment:
    intro = ctx.library.resolve(src.intro_prompt, language)
    stems = [intro.stem]
    worst = intro.language
    for token in spoken_number(src.number, ctx.default_region):
        name = _TOKEN_PROMPTS.get(token) or prompts.digit_prompt(token)
        found = ctx.library.resolve(name, language)
        if found.fell_back:
            worst = found.language
        stems.append(found.stem)
    return _seg(kind, f"prompt {src.intro_prompt!r} + number", tuple(stems), language, worst)


_TOKEN_PROMPTS = {" ": prompts.PAUSE, "+": prompts.PLUS}


def _seg(
    kind: SegmentKind,
    label: str,
    stems: tuple[Path, ...],
    requested: str,
    used: str,
    *,
    version: int | None = None,
) -> ResolvedSegment:
    fell_back = used.split("-")[0] != requested.split("-")[0]
    return ResolvedSegment(
        kind=kind,
        label=f"{label} ({used}{f', version {version}' if version else ''})",
        stems=stems,
        language=used,
        fallback=f"{requested} → {used}" if fell_back else None,
    )


def _pick(by_language: Mapping[str, object], language: str, default: str, what: str) -> str:
    for lang in (language, language.split("-")[0], default, default.split("-")[0]):
        if lang in by_language:
            return lang
    raise NotFoundError(
        f"{what} has no version in {language!r} nor in the default language {default!r}"
    )


_DIGIT_GROUPS = re.compile(r"\d+")


def spoken_number(number: str, default_region: str = "US") -> list[str]:
    """Tokens to speak a phone number: digits, ``"+"``, and ``" "`` for a short pause.

    A number in the organisation's own country is spoken in national format
    (``(202) 555-0123`` → 2 0 2 · 5 5 5 · 0 1 2 3), any other in
    international format starting with "plus". Raises MessageError when the
    number is not a valid phone number (C11 needs a number people can call).
    """
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException as exc:
        raise MessageError(f"C11: {number!r} is not a phone number ({exc})") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise MessageError(f"C11: {number!r} is not a valid phone number")
    region_code = phonenumbers.country_code_for_region(default_region)
    if parsed.country_code == region_code:
        text = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        tokens: list[str] = []
    else:
        text = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        tokens = ["+"]
    for index, group in enumerate(_DIGIT_GROUPS.findall(text)):
        if index:
            tokens.append(" ")
        tokens.extend(group)
    return tokens
