"""Preview: the exact audio a contact would hear, as one WAV (real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.audio import prompts
from dialer.audio.files import find_sound, read_sound
from dialer.audio.message import (
    Contact,
    ResolveContext,
    TemplateSource,
    TextSource,
    compose_message,
    resolve_message,
)
from dialer.audio.preview import preview_message, render_preview
from dialer.audio.templates import ready_template
from dialer.errors import AudioError
from tests.support import audio_files as af


@pytest.fixture
def ctx(tmp_path: Path) -> ResolveContext:
    return ResolveContext(
        library=prompts.prompt_library(), tts_cache_dir=tmp_path / "tts", tts_name_key=b"k" * 32
    )


def _message() -> object:
    return compose_message(
        "absence",
        identification=TextSource("org", {"en": "This is Example School District."}),
        body=TemplateSource(ready_template("attendance-absence")),
        callback_number="(202) 555-0143",
        hotline_number="(202) 555-0199",
    )


def test_preview_is_the_concatenation_of_what_is_played(
    ctx: ResolveContext, tmp_path: Path
) -> None:
    contact = Contact(
        "c-1", "en", {"student_name": "Maria", "school": "Lincoln", "date": "2025-03-05"}
    )
    live = _message().live  # type: ignore[attr-defined]
    stems = resolve_message(live, contact, ctx).stems()
    out = tmp_path / "preview.wav"

    seconds = render_preview(stems, out)

    assert af.wav_format(out) == (8000, 2, 1)
    expected = b"".join(read_sound(s).data for s in stems)
    assert read_sound(out).data == expected
    assert af.duration(out) == pytest.approx(seconds, abs=0.01)
    assert seconds == pytest.approx(sum(af.duration(find_sound(s)) for s in stems), abs=0.01)


def test_preview_message_reports_fallbacks(ctx: ResolveContext, tmp_path: Path) -> None:
    contact = Contact(
        "c-2", "fr", {"student_name": "Luc", "school": "Lincoln", "date": "2025-03-05"}
    )
    seconds, fallbacks = preview_message(
        _message().voicemail,
        contact,
        ctx,
        tmp_path / "vm.wav",  # type: ignore[attr-defined]
    )
    assert seconds > 5
    assert fallbacks and all("fr → en" in f for f in fallbacks)
    # C18: what one contact hears (a child's name) is personal data: 0600, and the
    # spoken names are cached under keyed names, 0600 too (issue 8 item 3)
    import stat

    assert stat.S_IMODE((tmp_path / "vm.wav").stat().st_mode) == 0o600
    renders = list((tmp_path / "tts").rglob("*.wav"))
    assert renders and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in renders)


def test_wideband_only_sounds_are_resampled(tmp_path: Path) -> None:
    raw = tmp_path / "wide.sln16"
    af.run("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", str(raw),
           "synth", "1", "sine", "300")  # fmt: skip
    seconds = render_preview([tmp_path / "wide"], tmp_path / "out.wav")
    assert seconds == pytest.approx(1.0, abs=0.01)
    assert af.wav_format(tmp_path / "out.wav") == (8000, 2, 1)


def test_missing_sound_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        render_preview([tmp_path / "nothing"], tmp_path / "out.wav")
    with pytest.raises(AudioError, match="nothing to preview"):
        render_preview([], tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()
