"""Message composition, per-contact resolution and the C8/C9/C11 validator.

All audio is real: recordings converted from espeak-ng speech, the shipped
prompts, espeak-ng renderings of templates.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dialer.audio import analysis, prompts
from dialer.audio.convert import convert_recording
from dialer.audio.files import find_sound, read_sound
from dialer.audio.message import (
    ComposedMessage,
    Contact,
    Message,
    NumberSource,
    PromptSource,
    RecordingSource,
    ResolveContext,
    Segment,
    SegmentKind,
    TemplateSource,
    TextSource,
    compose_message,
    resolve_message,
)
from dialer.audio.templates import ready_template
from dialer.audio.validate import check_structure, validate_message
from dialer.errors import InputError, MessageError
from tests.support import audio_files as af

CALLBACK = "(202) 555-0143"
HOTLINE = "(202) 555-0199"
K = SegmentKind


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("message")


@pytest.fixture(scope="module")
def org_name(workdir: Path) -> RecordingSource:
    """The organisation's name recorded in English and Spanish, imported like an upload."""
    stems = {}
    for lang, voice, text in (
        ("en", "en-us", "This is Example School District."),
        ("es", "es-419", "Le habla el Distrito Escolar Ejemplo."),
    ):
        src = af.speech_wav(workdir / f"org-{lang}.wav", text, voice)
        stems[lang] = convert_recording(src, workdir / "rec", f"org-name-v1-{lang}", 60).stem
    return RecordingSource("org-name", stems)


@pytest.fixture
def ctx(tmp_path: Path) -> ResolveContext:
    return ResolveContext(
        library=prompts.prompt_library(), tts_cache_dir=tmp_path / "tts", tts_name_key=b"k" * 32
    )


@pytest.fixture
def composed(org_name: RecordingSource) -> ComposedMessage:
    return compose_message(
        "absence",
        identification=org_name,
        body=TemplateSource(ready_template("attendance-absence")),
        callback_number=CALLBACK,
        hotline_number=HOTLINE,
    )


def _maria(lang: str = "en") -> Contact:
    return Contact(
        "c-1", lang, {"student_name": "Maria Lopez", "school": "Lincoln High", "date": "2025-03-05"}
    )


def test_composes_live_and_voicemail_in_the_required_order(composed: ComposedMessage) -> None:
    assert composed.live.kinds() == [
        K.IDENTIFICATION,
        K.OPTOUT_INSTRUCTION,
        K.WRONG_NUMBER_INSTRUCTION,
        K.BODY,
        K.CALLBACK,
        K.REPEAT_INSTRUCTION,
    ]
    assert composed.voicemail.kinds() == [
        K.IDENTIFICATION,
        K.HOTLINE_INSTRUCTION,
        K.BODY,
        K.CALLBACK,
    ]
    hotline = composed.voicemail.segments[1].source
    assert isinstance(hotline, NumberSource) and hotline.number == HOTLINE


def test_c8_message_without_identification_is_refused(composed: ComposedMessage) -> None:
    no_ident = Message("m", "live", composed.live.segments[1:])
    with pytest.raises(MessageError, match=r"C8: .* has no identification segment"):
        check_structure(no_ident)


def test_c8_identification_must_come_first(composed: ComposedMessage) -> None:
    segs = composed.live.segments
    late = Message("m", "live", (segs[1], segs[0], *segs[2:]))
    with pytest.raises(MessageError, match=r"C8: .* must start with the identification"):
        check_structure(late)


def test_c9_message_without_optout_instruction_is_refused(composed: ComposedMessage) -> None:
    live = Message(
        "m", "live", tuple(s for s in composed.live.segments if s.kind != K.OPTOUT_INSTRUCTION)
    )
    with pytest.raises(MessageError, match=r"C9: .* has no opt-out instruction \('press 9'\)"):
        check_structure(live)
    vm = Message(
        "m",
        "voicemail",
        tuple(s for s in composed.voicemail.segments if s.kind != K.HOTLINE_INSTRUCTION),
    )
    with pytest.raises(MessageError, match=r"C9: .* has no hotline instruction"):
        check_structure(vm)


def test_c11_message_without_callback_is_refused(composed: ComposedMessage) -> None:
    no_callback = Message(
        "m", "live", tuple(s for s in composed.live.segments if s.kind != K.CALLBACK)
    )
    with pytest.raises(MessageError, match=r"C11: .* has no callback number"):
        check_structure(no_callback)


def test_c11_callback_before_body_invalid_or_own_line_is_refused(
    composed: ComposedMessage, org_name: RecordingSource
) -> None:
    segs = list(composed.live.segments)
    body, callback = segs[3], segs[4]
    swapped = Message("m", "live", (*segs[:3], callback, body, *segs[5:]))
    with pytest.raises(MessageError, match=r"C11: .* before the body"):
        check_structure(swapped)
    with pytest.raises(MessageError, match=r"C11: .* dialer's own line"):
        check_structure(composed.live, forbidden_callback_numbers=["+12025550143"])
    bad = compose_message(
        "m", identification=org_name, body=PromptSource(prompts.GOODBYE),
        callback_number="12345", hotline_number=HOTLINE,
    )  # fmt: skip
    with pytest.raises(MessageError, match="C11: '12345' is not a valid phone number"):
        check_structure(bad.live)


def test_c9_compliant_message_is_accepted_with_measured_gap(
    composed: ComposedMessage, ctx: ResolveContext
) -> None:
    report = validate_message(composed.live, ctx, contacts=[_maria("en"), _maria("es")])

    assert {m.language for m in report.c9} == {"en", "es"}
    for m in report.c9:
        assert m.gap_s <= 0.6  # converted audio: only the 50 ms pads and the words' decay
        assert m.between_s == 0
    assert report.fallbacks == ()


def test_c9_voicemail_version_is_accepted(composed: ComposedMessage, ctx: ResolveContext) -> None:
    report = validate_message(composed.voicemail, ctx, contacts=[_maria()])
    assert report.c9[0].gap_s <= 0.6
    assert "hotline-voicemail" in report.c9[0].instruction


def test_c9_refuses_3s_of_silence_between_identification_and_instruction(
    composed: ComposedMessage, org_name: RecordingSource, ctx: ResolveContext, tmp_path: Path
) -> None:
    """An identification file with 3 s of silence at its end (e.g. made outside the importer)."""
    silent_end = af.with_trailing_silence(
        find_sound(org_name.stems["en"]), tmp_path / "org-silent-end.wav", 3.0
    )
    ident = RecordingSource("org-name-long-pause", {"en": silent_end.with_suffix("")})
    message = compose_message(
        "absence", identification=ident, body=PromptSource(prompts.GOODBYE),
        callback_number=CALLBACK, hotline_number=HOTLINE,
    ).live  # fmt: skip

    with pytest.raises(MessageError) as info:
        validate_message(message, ctx)

    text = str(info.value)
    assert text.startswith("C9: in message 'absence' (live, en)")
    assert "recording 'org-name-long-pause' (en) ends with 3.0" in text
    # staff read this: the recording's name, never the server's sound file
    assert str(silent_end.parent) not in text and ".wav" not in text


def test_c9_refuses_identification_ending_in_hiss_that_import_keeps(
    ctx: ResolveContext, tmp_path: Path
) -> None:
    """3 s of room noise after the name: above the importer's trim floor, below speech.

    The noise is a steady hum 22 dB under the speech (not white noise, whose
    level at the trim floor varied from run to run): after the importer's
    normalisation it sits about 5 dB above the trim floor and 5 dB under the
    speech level, measured below, so the importer provably keeps it and C9
    provably hears no words in it, on every run.
    """
    speech = af.speech_wav(tmp_path / "org.wav", "This is Example School District.")
    hissy = af.with_trailing_hum(speech, tmp_path / "org-hiss.wav", 3.0, level_db=22)
    converted = convert_recording(hissy, tmp_path / "rec", "org-hiss", 60)
    assert converted.trailing_trim_s < 0.5  # the importer kept the noise: it is not silence
    pcm = read_sound(converted.stem)
    played = analysis.segment_from_pcm(pcm.data, pcm.sample_rate)
    noise_dbfs = analysis.rms_dbfs(played[-2500:-500])
    assert analysis.TRIM_SILENCE_DBFS + 3 < noise_dbfs < analysis.SPEECH_DBFS - 3, noise_dbfs
    message = compose_message(
        "closure",
        identification=RecordingSource("org-hiss", {"en": converted.stem}, {"en": 2}),
        body=PromptSource(prompts.GOODBYE), callback_number=CALLBACK, hotline_number=HOTLINE,
    ).live  # fmt: skip

    with pytest.raises(MessageError) as info:
        validate_message(message, ctx)
    # named as staff know it: name, language, version; the file on the server is not shown
    assert re.search(r"recording 'org-hiss' \(en, version 2\) ends with 3\.\d\d s", str(info.value))
    assert str(converted.stem.parent) not in str(info.value)


def test_a_missing_or_unplayable_sound_is_named_by_recording_not_by_path(
    composed: ComposedMessage, ctx: ResolveContext, tmp_path: Path
) -> None:
    gone = RecordingSource("org-name", {"en": tmp_path / "org-name-en-v4"}, {"en": 4})
    stereo = tmp_path / "stereo.wav"
    af.run(
        "sox", "-n", "-r", "8000", "-c", "2", "-b", "16", str(stereo), "synth", "1", "sine", "440"
    )
    odd = RecordingSource("org-name", {"en": stereo.with_suffix("")}, {"en": 5})
    for source, why in (
        (gone, "the sound file was not found"),
        (odd, "Asterisk needs 16-bit mono"),
    ):
        message = compose_message(
            "absence", identification=source, body=PromptSource(prompts.GOODBYE),
            callback_number=CALLBACK, hotline_number=HOTLINE,
        ).live  # fmt: skip
        with pytest.raises(InputError) as info:
            validate_message(message, ctx)
        text = str(info.value)
        version = source.versions["en"]
        assert text.startswith(f"recording 'org-name' (en, version {version}): {why}"), text
        assert str(tmp_path) not in text


def test_c9_refuses_a_3s_segment_between_identification_and_instruction(
    composed: ComposedMessage, ctx: ResolveContext, tmp_path: Path
) -> None:
    tone = convert_recording(af.tone_wav(tmp_path / "t.wav", 3.0), tmp_path, "jingle", 60)
    segs = composed.live.segments
    jingle = Segment(K.BODY, RecordingSource("jingle", {"en": tone.stem}))
    message = Message("m", "live", (segs[0], jingle, *segs[1:]))

    with pytest.raises(MessageError, match=r"body recording 'jingle' \(en\) play\(s\) 3\.0"):
        validate_message(message, ctx, contacts=[_maria()])


def test_c9_is_checked_for_every_language_of_the_campaign(
    org_name: RecordingSource, ctx: ResolveContext, tmp_path: Path
) -> None:
    es_silent = af.with_trailing_silence(
        find_sound(org_name.stems["es"]), tmp_path / "org-es.wav", 3.0
    )
    ident = RecordingSource(
        "org-name", {"en": org_name.stems["en"], "es": es_silent.with_suffix("")}
    )
    message = compose_message(
        "m", identification=ident, body=PromptSource(prompts.GOODBYE),
        callback_number=CALLBACK, hotline_number=HOTLINE,
    ).live  # fmt: skip
    validate_message(message, ctx)  # English only: fine
    with pytest.raises(MessageError, match=r"\(live, es\).*recording 'org-name' \(es\)"):
        validate_message(message, ctx, languages=["es"])


def test_two_contacts_get_distinct_personalised_audio(
    composed: ComposedMessage, ctx: ResolveContext
) -> None:
    maria = _maria()
    john = Contact("c-2", "en", {**maria.fields, "student_name": "John Smith"})

    a = resolve_message(composed.live, maria, ctx)
    b = resolve_message(composed.live, john, ctx)
    again = resolve_message(composed.live, maria, ctx)

    body_a = a.segments[3].stems[0]
    body_b = b.segments[3].stems[0]
    assert body_a != body_b
    assert find_sound(body_a).read_bytes() != find_sound(body_b).read_bytes()
    assert again.segments[3].stems == a.segments[3].stems  # cached per distinct text
    # everything not personalised is shared
    assert a.stems()[:3] == b.stems()[:3] and a.stems()[4:] == b.stems()[4:]


def test_spanish_contact_gets_spanish_prompts_recording_and_voice(
    composed: ComposedMessage, ctx: ResolveContext, org_name: RecordingSource
) -> None:
    resolved = resolve_message(composed.live, _maria("es"), ctx)

    assert resolved.fallbacks == []
    assert resolved.segments[0].stems == (org_name.stems["es"],)
    for seg in resolved.segments[1:]:
        assert seg.language == "es"
    optout = resolved.segments[1].stems[0]
    assert optout == prompts.SHIPPED_PROMPTS_DIR / "es" / prompts.OPTOUT_INSTRUCTION
    assert resolved.segments[3].stems[0].parent.name == "es"  # Spanish TTS voice cache
    callback = resolved.segments[4].stems
    assert callback[0] == prompts.SHIPPED_PROMPTS_DIR / "es" / prompts.CALLBACK_INTRO
    assert all(stem.is_relative_to(prompts.SHIPPED_PROMPTS_DIR / "es") for stem in callback)


def test_callback_number_is_spoken_digit_by_digit(
    composed: ComposedMessage, ctx: ResolveContext
) -> None:
    resolved = resolve_message(composed.live, _maria(), ctx)
    names = [stem.name for stem in resolved.segments[4].stems]
    assert names == [
        "callback-intro", "2", "0", "2", "pause", "5", "5", "5", "pause", "0", "1", "4", "3",
    ]  # fmt: skip


def test_fallback_to_default_language_is_reported(
    org_name: RecordingSource, ctx: ResolveContext
) -> None:
    only_en = RecordingSource("org-name", {"en": org_name.stems["en"]})
    message = compose_message(
        "m", identification=only_en, body=TextSource("note", {"en": "See you soon."}),
        callback_number=CALLBACK, hotline_number=HOTLINE,
    ).live  # fmt: skip

    spanish = resolve_message(message, Contact("c-9", "es"), ctx)
    assert spanish.fallbacks == [
        "identification: recording 'org-name' (en) es → en",
        "body: text 'note' (en) es → en",
    ]
    french = resolve_message(message, Contact("c-10", "fr"), ctx)
    assert len(french.fallbacks) == len(french.segments)
    report = validate_message(message, ctx, languages=["es"])
    assert "es: identification recording 'org-name' (en) es → en" in report.fallbacks


def test_missing_field_names_the_field_and_the_contact(
    composed: ComposedMessage, ctx: ResolveContext
) -> None:
    contact = Contact("c-77", "en", {"student_name": "Maria"})
    with pytest.raises(InputError, match=r"contact c-77 has no value for field.s. date, school"):
        resolve_message(composed.live, contact, ctx)


def test_personalised_identification_needs_contacts_to_validate(
    ctx: ResolveContext,
) -> None:
    from dialer.audio.templates import Template

    ident = TemplateSource(Template("school-name", {"en": "This is {school}."}))
    message = compose_message(
        "m", identification=ident, body=PromptSource(prompts.GOODBYE),
        callback_number=CALLBACK, hotline_number=HOTLINE,
    ).live  # fmt: skip
    with pytest.raises(MessageError, match="personalised segment before the opt-out"):
        validate_message(message, ctx)
    report = validate_message(message, ctx, contacts=[Contact("c-1", "en", {"school": "Lincoln"})])
    assert report.c9[0].gap_s <= 0.6
