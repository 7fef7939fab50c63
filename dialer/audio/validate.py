"""The message validator: required segments (C8, C9, C11) and the 2-second rule (C9).

COMPLIANCE.md:

* C8  every message starts with the organisation's name (identification);
* C9  the opt-out instruction starts no later than 2 s after the
      identification ends, *measured on the actual audio*;
* C11 every message states a callback number (not the dialer's own line)
      during or after the body; the voicemail version also gives the hotline.

The C9 gap is what a listener hears between the last word of the
identification and the first word of the instruction::

    trailing silence of the identification audio
  + full length of every segment played in between
  + leading silence of the opt-out instruction audio

"Silence" is any 10 ms chunk under ``analysis.SPEECH_DBFS`` (-40 dBFS, 20 dB
below the loudness target): a hiss that survived trimming still counts,
because nobody hears an instruction in it. The check runs once per language
the campaign's contacts speak, on the files those contacts would hear, and
the refusal names the recording with the silence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import phonenumbers

from dialer.audio import analysis
from dialer.audio.files import check_playable, find_sound, named
from dialer.audio.message import (
    OPTOUT_KINDS,
    Contact,
    Message,
    NumberSource,
    ResolveContext,
    ResolvedSegment,
    SegmentKind,
    TemplateSource,
    resolve_segment,
    spoken_number,
)
from dialer.audio.tts import normalise_language
from dialer.errors import MessageError

#: C9: "starts no later than 2 seconds after the identification ends"
MAX_OPTOUT_GAP_S = 2.0
_OPTOUT_WORDS = {"live": "opt-out instruction ('press 9')", "voicemail": "hotline instruction"}


@dataclass(frozen=True)
class C9Measurement:
    language: str
    gap_s: float
    identification_trailing_s: float
    between_s: float
    instruction_leading_s: float
    identification: str
    instruction: str
    identification_file: Path
    instruction_file: Path
    between: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationReport:
    message: str
    variant: str
    c9: tuple[C9Measurement, ...]
    #: segments that fell back to the default language, per language checked
    fallbacks: tuple[str, ...]


def check_structure(
    message: Message,
    *,
    default_region: str = "US",
    forbidden_callback_numbers: Iterable[str] = (),
) -> None:
    """C8, C9 (presence) and C11 on the message's shape; MessageError names the missing part."""
    kinds = message.kinds()
    name = f"message {message.name!r} ({message.variant})"
    if SegmentKind.IDENTIFICATION not in kinds:
        raise MessageError(
            f"C8: {name} has no identification segment (the organisation's name must come first)"
        )
    if kinds[0] != SegmentKind.IDENTIFICATION:
        raise MessageError(
            f"C8: {name} must start with the identification (the organisation's name); "
            f"it starts with {kinds[0]}"
        )
    optout = OPTOUT_KINDS[message.variant]
    if optout not in kinds:
        raise MessageError(f"C9: {name} has no {_OPTOUT_WORDS[message.variant]}")
    if SegmentKind.BODY not in kinds:
        raise MessageError(f"{name} has no body")
    if SegmentKind.CALLBACK not in kinds:
        raise MessageError(f"C11: {name} has no callback number")
    if kinds.index(SegmentKind.CALLBACK) < kinds.index(SegmentKind.BODY):
        raise MessageError(f"C11: {name} states the callback number before the body")
    # C11: the callback and hotline numbers reach people, never the dialer's own
    # line (the campaign's caller ID): calling it back would reach nobody
    forbidden = {_e164(n, default_region) for n in forbidden_callback_numbers if n}
    for segment in message.segments:
        if not isinstance(segment.source, NumberSource):
            continue
        spoken_number(segment.source.number, default_region)  # MessageError if invalid
        if _e164(segment.source.number, default_region) not in forbidden:
            continue
        if segment.kind == SegmentKind.CALLBACK:
            raise MessageError(
                f"C11: {name}: the callback number is the dialer's own line; "
                "give a number where people can reach staff"
            )
        raise MessageError(
            f"C11: {name}: the opt-out hotline number is the dialer's own line; "
            "give the number of the opt-out hotline (organisation.hotline_number)"
        )


def _e164(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def measure_c9(
    segments: Sequence[ResolvedSegment],
    variant: str = "live",
    *,
    threshold_dbfs: float = analysis.SPEECH_DBFS,
) -> C9Measurement:
    """Measure the identification → opt-out gap on resolved (real) audio files."""
    kinds = [s.kind for s in segments]
    optout_at = kinds.index(OPTOUT_KINDS[variant])
    ident_at = max(i for i in range(optout_at) if kinds[i] == SegmentKind.IDENTIFICATION)
    ident, instruction = segments[ident_at], segments[optout_at]

    ident_audio = _concat(ident)
    ident_trailing = _edges(ident_audio, threshold_dbfs).trailing_ms / 1000
    between = segments[ident_at + 1 : optout_at]
    between_s = sum(analysis.duration_s(_concat(s)) for s in between)
    instruction_leading = _edges(_concat(instruction), threshold_dbfs).leading_ms / 1000
    with named(ident.label):
        ident_file = find_sound(ident.stems[-1])
    with named(instruction.label):
        instruction_file = find_sound(instruction.stems[0])
    return C9Measurement(
        language=instruction.language,
        gap_s=round(ident_trailing + between_s + instruction_leading, 3),
        identification_trailing_s=ident_trailing,
        between_s=round(between_s, 3),
        instruction_leading_s=instruction_leading,
        identification=ident.label,
        instruction=instruction.label,
        identification_file=ident_file,
        instruction_file=instruction_file,
        between=tuple(f"{s.kind} {s.label}" for s in between),
    )


def check_c9(
    segments: Sequence[ResolvedSegment],
    variant: str = "live",
    *,
    message_name: str = "message",
    max_gap_s: float = MAX_OPTOUT_GAP_S,
    threshold_dbfs: float = analysis.SPEECH_DBFS,
) -> C9Measurement:
    """``measure_c9`` and refuse with MessageError naming the offending recording
    (name, language, version: what staff know it by; never its server path)."""
    m = measure_c9(segments, variant, threshold_dbfs=threshold_dbfs)
    if m.gap_s <= max_gap_s:
        return m
    parts = []
    if m.identification_trailing_s > 0.3:
        parts.append(
            f"identification {m.identification} ends with {m.identification_trailing_s:.2f} s "
            "of silence"
        )
    if m.between:
        parts.append(f"{', '.join(m.between)} play(s) {m.between_s:.2f} s in between")
    if m.instruction_leading_s > 0.3:
        parts.append(
            f"{_OPTOUT_WORDS.get(variant, 'instruction')} {m.instruction} starts with "
            f"{m.instruction_leading_s:.2f} s of silence"
        )
    raise MessageError(
        f"C9: in message {message_name!r} ({variant}, {m.language}) the "
        f"{_OPTOUT_WORDS.get(variant, 'instruction')} starts {m.gap_s:.2f} s after the "
        f"identification ends (limit {max_gap_s:g} s): " + "; ".join(parts)
    )


def validate_message(
    message: Message,
    ctx: ResolveContext,
    *,
    contacts: Sequence[Contact] = (),
    languages: Iterable[str] = (),
    forbidden_callback_numbers: Iterable[str] = (),
    max_gap_s: float = MAX_OPTOUT_GAP_S,
) -> ValidationReport:
    """Refuse a message that breaks C8, C9 or C11 for any language it will be played in.

    Checks the shape, then for the default language, every language in
    ``languages`` and every contact language (first contact of each as the
    sample), resolves the message and checks that every file is playable
    and that the C9 gap is within ``max_gap_s``. Template segments are
    rendered for sample contacts only (a language given without a contact
    has no field values). Blocking: renders TTS on first use.
    """
    check_structure(
        message,
        default_region=ctx.default_region,
        forbidden_callback_numbers=forbidden_callback_numbers,
    )
    samples: dict[str, Contact | None] = {normalise_language(ctx.default_language): None}
    for lang in languages:
        samples.setdefault(normalise_language(lang), None)
    for contact in contacts:
        lang = normalise_language(contact.language)
        if samples.get(lang) is None:
            samples[lang] = contact
    measurements = []
    fallbacks: list[str] = []
    for lang, sample in samples.items():
        resolved = _resolve_sample(message, sample, lang, ctx)
        for seg in resolved:
            check_segment_playable(seg)
        fallbacks += [f"{lang}: {s.kind} {s.label} {s.fallback}" for s in resolved if s.fallback]
        measurements.append(
            check_c9(resolved, message.variant, message_name=message.name, max_gap_s=max_gap_s)
        )
    return ValidationReport(message.name, message.variant, tuple(measurements), tuple(fallbacks))


def _resolve_sample(
    message: Message, sample: Contact | None, lang: str, ctx: ResolveContext
) -> list[ResolvedSegment]:
    """Resolve for a sample contact; without one, personalised segments after the
    opt-out instruction are skipped (their wording needs a contact's fields)."""
    contact = sample or Contact(id=f"validation-{lang}", language=lang)
    optout_at = message.kinds().index(OPTOUT_KINDS[message.variant])
    out = []
    for index, segment in enumerate(message.segments):
        if sample is None and isinstance(segment.source, TemplateSource):
            if index <= optout_at:
                raise MessageError(
                    f"C9: message {message.name!r} has a personalised segment before the "
                    f"opt-out instruction; validate it with the campaign's contacts ({lang})"
                )
            continue
        out.append(resolve_segment(segment, contact, lang, ctx))
    return out


def check_segment_playable(segment: ResolvedSegment) -> float:
    """Every file of ``segment`` is playable; its seconds. A problem names the
    segment (recording, language, version), not the file on the server."""
    with named(segment.label):
        return sum(check_playable(stem).duration_s for stem in segment.stems)


def _concat(segment: ResolvedSegment) -> analysis.Segment:
    with named(segment.label):
        pcms = [check_playable(stem) for stem in segment.stems]
    rate = pcms[0].sample_rate
    if any(p.sample_rate != rate for p in pcms):
        # mixed rates inside one segment: measure each at its own rate, joined by time
        joined = analysis.segment_from_pcm(pcms[0].data, rate)
        for p in pcms[1:]:
            joined += analysis.segment_from_pcm(p.data, p.sample_rate).set_frame_rate(rate)
        return joined
    return analysis.segment_from_pcm(b"".join(p.data for p in pcms), rate)


def _edges(seg: analysis.Segment, threshold_dbfs: float) -> analysis.Edges:
    return analysis.edge_silence_ms(seg, threshold_dbfs)
