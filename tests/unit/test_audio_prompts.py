"""Shipped prompts, language fallback and operator overrides (real files on disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.audio import prompts
from dialer.audio.files import check_playable, find_sound
from dialer.errors import AudioError, NotFoundError
from tests.support import audio_files as af


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_prompt_is_shipped_as_8k_mono_16bit_wav(language: str) -> None:
    for name in prompts.PROMPT_NAMES:
        path = prompts.SHIPPED_PROMPTS_DIR / language / f"{name}.wav"
        assert path.is_file(), f"missing shipped prompt {path}"
        assert af.wav_format(path) == (8000, 2, 1)
        seconds = af.duration(path)
        assert 0.1 < seconds < 12, f"{path} is {seconds} s"
        assert path.stat().st_size < 200_000


def test_shipped_prompts_are_small_in_total() -> None:
    total = sum(p.stat().st_size for p in prompts.SHIPPED_PROMPTS_DIR.rglob("*.wav"))
    # about 3.1 MB with the record-by-phone and test-call prompts (issue 14): 8 kHz only
    assert total < 4_000_000


def test_spanish_and_english_prompts_differ() -> None:
    en = prompts.prompt_path(prompts.OPTOUT_INSTRUCTION, "en")
    es = prompts.prompt_path(prompts.OPTOUT_INSTRUCTION, "es")
    assert en != es
    assert find_sound(en).read_bytes() != find_sound(es).read_bytes()


def test_regional_tag_uses_the_primary_language() -> None:
    found = prompts.prompt_library().resolve(prompts.OPTOUT_INSTRUCTION, "es_MX")
    assert found.language == "es"
    assert not found.fell_back
    assert found.stem == prompts.SHIPPED_PROMPTS_DIR / "es" / prompts.OPTOUT_INSTRUCTION


def test_missing_language_falls_back_to_default_and_reports_it() -> None:
    library = prompts.prompt_library(default_language="en")
    found = library.resolve(prompts.OPTOUT_INSTRUCTION, "fr")
    assert found.language == "en"
    assert found.requested_language == "fr"
    assert found.fell_back
    assert library.missing("fr") == list(prompts.PROMPT_NAMES)
    assert library.missing("es") == []


def test_unknown_prompt_is_not_found_naming_it() -> None:
    with pytest.raises(NotFoundError, match="prompt 'no-such-prompt' not found"):
        prompts.prompt_library().resolve("no-such-prompt", "en")
    with pytest.raises(NotFoundError, match="invalid prompt name"):
        prompts.prompt_library().resolve("../etc/passwd", "en")


def test_operator_override_wins_for_its_language_only(tmp_path: Path) -> None:
    own = af.speech_wav(tmp_path / "own.wav", "To stop these calls, press nine now.")
    override_dir = tmp_path / "overrides"
    converted = prompts.install_prompt_override(own, prompts.OPTOUT_INSTRUCTION, "en", override_dir)
    library = prompts.prompt_library(override_dir=override_dir)

    en = library.resolve(prompts.OPTOUT_INSTRUCTION, "en")
    es = library.resolve(prompts.OPTOUT_INSTRUCTION, "es")

    assert en.overridden and en.stem == converted.stem
    assert check_playable(en.stem).sample_rate == 8000
    assert not es.overridden
    assert es.stem.is_relative_to(prompts.SHIPPED_PROMPTS_DIR)


def test_district_recordings_dir_is_searched_before_the_shipped_set(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    (recordings / "prompts" / "es").mkdir(parents=True)
    af.tone_wav(recordings / "prompts" / "es" / f"{prompts.GOODBYE}.wav", 0.5)
    stem = prompts.prompt_path(prompts.GOODBYE, "es", recordings)
    assert stem == recordings / "prompts" / "es" / prompts.GOODBYE


def test_override_of_wrong_format_is_refused_when_played(tmp_path: Path) -> None:
    """An operator who drops a 44.1 kHz stereo WAV in by hand gets a clear refusal."""
    override_dir = tmp_path / "overrides"
    (override_dir / "en").mkdir(parents=True)
    bad = override_dir / "en" / f"{prompts.GOODBYE}.wav"
    af.run("sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(bad), "synth", "1", "sine", "300")
    stem = prompts.prompt_path(prompts.GOODBYE, "en", override_dir=override_dir)
    with pytest.raises(AudioError, match="16-bit mono"):
        check_playable(stem)
