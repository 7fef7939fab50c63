"""espeak-ng rendering and its cache (real espeak-ng, real files)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dialer.audio import tts
from dialer.errors import AudioError
from tests.support import audio_files as af

KEY = b"store-derived file-name key 32 b"


def test_renders_8k_mono_wav_and_wideband_twin(tmp_path: Path) -> None:
    wav = tts.render_text("Maria Lopez was absent today.", "en", tmp_path, name_key=KEY)
    assert af.wav_format(wav) == (8000, 2, 1)
    assert 1.0 < af.duration(wav) < 5.0
    assert wav.with_suffix(".sln16").stat().st_size > 0


def test_file_names_are_hashes_not_text(tmp_path: Path) -> None:
    wav = tts.render_text("Call +1 202 555 0123, Maria", "en", tmp_path, name_key=KEY)
    assert "0123" not in str(wav) and "Maria" not in str(wav)
    assert len(wav.stem) == 64


def test_same_text_is_cached_and_different_text_or_language_is_not(tmp_path: Path) -> None:
    first = tts.render_text("Hello Maria", "en", tmp_path, name_key=KEY)
    mtime = first.stat().st_mtime_ns
    again = tts.render_text("  Hello   Maria ", "en", tmp_path, name_key=KEY)
    other = tts.render_text("Hello Mario", "en", tmp_path, name_key=KEY)
    spanish = tts.render_text("Hello Maria", "es", tmp_path, name_key=KEY)

    assert again == first and first.stat().st_mtime_ns == mtime
    assert other != first
    assert spanish != first and spanish.parent.name == "es"


def test_concurrent_renders_of_the_same_text_are_safe(tmp_path: Path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(tts.render_text("Concurrent text", "en", tmp_path, name_key=KEY))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert af.wav_format(results[0]) == (8000, 2, 1)
    leftovers = [p.name for p in (tmp_path / "en").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="empty"):
        tts.render_text(" \n\t", "en", tmp_path, name_key=KEY)
    with pytest.raises(AudioError, match="no text-to-speech voice for language 'xx'"):
        tts.render_text("Hello", "xx", tmp_path, name_key=KEY)
    with pytest.raises(AudioError, match="invalid language code"):
        tts.render_text("Hello", "../en", tmp_path, name_key=KEY)


def test_voice_choice() -> None:
    assert tts.voice_for("en-GB") == "en-us"
    assert tts.voice_for("es_MX") == "es-419"
    assert tts.voice_for("fr") is None


def test_c18_cache_names_are_keyed_and_files_private(tmp_path: Path) -> None:
    """Issue 8 item 3: a plain hash of a name could be confirmed by anyone who
    guesses the name; the name is an HMAC under the store's key, the file 0600."""
    import hashlib
    import stat

    wav = tts.render_text("Maria Lopez", "en", tmp_path, name_key=KEY)
    other_key = tts.render_text("Maria Lopez", "en", tmp_path / "b", name_key=b"x" * 32)
    assert wav.stem != other_key.stem  # the name depends on the key
    material = "\0".join(("espeak-ng/1", "en", "en-us", "150", "Maria Lopez"))
    assert wav.stem != hashlib.sha256(material.encode()).hexdigest()
    for path in (wav, wav.with_suffix(".sln16")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(AudioError, match="key"):
        tts.render_text("Maria Lopez", "en", tmp_path, name_key=b"")


def test_renders_in_a_setgid_sounds_folder_are_readable_by_its_group_only(tmp_path: Path) -> None:
    """scripts/install: sounds/ is group asterisk + setgid, so Asterisk can play renders."""
    import os
    import stat

    folder = tmp_path / "sounds"
    folder.mkdir()
    os.chmod(folder, 0o2750)  # noqa: S103 - the installer's sounds folder
    wav = tts.render_text("Maria Lopez", "en", folder, name_key=KEY)
    assert stat.S_IMODE(wav.stat().st_mode) == 0o640
