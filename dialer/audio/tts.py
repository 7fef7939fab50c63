"""Offline text-to-speech with espeak-ng, cached per distinct text.

Names and free text of a personalised message (issue 4, "Personalisation")
are spoken by espeak-ng from Debian: no network, no cloud account, nothing
leaves the machine. Each rendering goes through the same conversion as an
uploaded recording (trim, loudness target, 8 kHz ``.wav`` + 16 kHz
``.sln16``), so TTS and recorded segments play at the same level.

Cache: ``<cache_dir>/<language>/<hmac>.wav``, an HMAC-SHA256 keyed with a
key derived from the store key (``Sealer.name_key``) over engine settings,
voice and text. File names never contain the text, so a student's name or a
phone number never appears in a directory listing or in an Asterisk log line
(C18), and without the key nobody can confirm a guessed name by hashing it
(a plain SHA-256 would allow that). The audio itself is personal data: files
are 0600 (0640 in a set-group-ID folder for Asterisk's group, see
files.private_mode). Concurrent renderings of the same text are safe: each
writes its own temporary file and renames it into place (files.atomic_paths);
both produce identical content.

Text is handed to espeak-ng on stdin, never on the command line, so it does
not show up in ``ps`` and cannot be mistaken for an option.
"""

from __future__ import annotations

import hmac
import re
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from dialer.audio.convert import ConvertPolicy, convert_recording
from dialer.audio.files import private_mode
from dialer.errors import AudioError

#: espeak-ng voice per language (primary subtag); es-419 is Latin American Spanish,
#: closer than Castilian to what US school districts' families speak
VOICES: dict[str, str] = {"en": "en-us", "es": "es-419"}
#: words per minute; espeak's default 175 is hard to follow over a phone line
DEFAULT_SPEED_WPM = 150
#: a message segment, not an essay: longer text is an input error
MAX_TEXT_CHARS = 2000
#: bump when rendering changes so old cache entries are not reused
_ENGINE_TAG = "espeak-ng/1"
_TIMEOUT_S = 60.0
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


def normalise_language(language: str) -> str:
    """``es_MX`` / ``ES-mx`` → ``es-mx``; AudioError when it is not a language tag."""
    tag = language.strip().replace("_", "-").lower()
    if not _LANG.match(tag):
        raise AudioError(f"invalid language code {language!r} (expected e.g. 'en' or 'es-mx')")
    return tag


def voice_for(language: str) -> str | None:
    """The espeak-ng voice for a language tag, or None when none is configured."""
    tag = normalise_language(language)
    return VOICES.get(tag) or VOICES.get(tag.split("-")[0])


def clean_text(text: str) -> str:
    """Drop control characters and collapse whitespace; AudioError when nothing is left."""
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise AudioError("text to speak is empty")
    if len(cleaned) > MAX_TEXT_CHARS:
        raise AudioError(
            f"text to speak is {len(cleaned)} characters; the limit is {MAX_TEXT_CHARS}"
        )
    return cleaned


def cache_key(text: str, language: str, voice: str, speed: int, name_key: bytes) -> str:
    if len(name_key) < 16:
        raise AudioError("text-to-speech cache needs the store's file-name key")
    material = "\0".join((_ENGINE_TAG, language, voice, str(speed), text))
    return hmac.digest(name_key, material.encode("utf-8"), "sha256").hex()


def render_text(
    text: str,
    language: str,
    cache_dir: Path,
    *,
    name_key: bytes,
    voice: str | None = None,
    speed: int = DEFAULT_SPEED_WPM,
    wideband: bool = True,
) -> Path:
    """Speak ``text`` in ``language``; return the cached 8 kHz ``.wav`` path.

    ``path.with_suffix("")`` is the stem AGI ``STREAM FILE`` wants; a
    ``.sln16`` twin sits next to it unless ``wideband`` is False.
    Raises AudioError when the language has no voice or espeak-ng fails.
    """
    tag = normalise_language(language)
    chosen = voice or voice_for(tag)
    if chosen is None:
        raise AudioError(
            f"no text-to-speech voice for language {tag!r} (have: {', '.join(sorted(VOICES))})"
        )
    cleaned = clean_text(text)
    key = cache_key(cleaned, tag, chosen, speed, name_key)
    out_dir = cache_dir / tag
    wav = out_dir / f"{key}.wav"
    if wav.is_file() and (not wideband or wav.with_suffix(".sln16").is_file()):
        return wav
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tts-", dir=out_dir) as tmp:
        raw = Path(tmp) / "espeak.wav"
        speak_to_wav(cleaned, chosen, speed, raw)
        try:
            result = convert_recording(
                raw,
                out_dir,
                key,
                max_seconds=float(MAX_TEXT_CHARS),
                policy=ConvertPolicy(wideband=wideband, file_mode=private_mode(out_dir)),
            )
        except AudioError as exc:
            # the message names a temporary file; say what was being spoken instead
            # (its length only: the text may be a name, C18)
            reason = str(exc).split(": ", 1)[-1]
            raise AudioError(
                f"text-to-speech ({tag}, {len(cleaned)} characters) gave unusable audio: {reason}"
            ) from exc
    return result.path_8k_wav


def speak_to_wav(text: str, voice: str, speed: int, out: Path) -> None:
    args = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), "--stdin"]
    try:
        proc = subprocess.run(
            args, input=text.encode("utf-8"), capture_output=True, timeout=_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        raise AudioError("espeak-ng is not installed (Debian package espeak-ng)") from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioError(f"espeak-ng took longer than {_TIMEOUT_S:.0f} s") from exc
    except OSError as exc:
        raise AudioError(f"cannot run espeak-ng: {exc.strerror}") from exc
    if proc.returncode != 0 or not out.is_file():
        msg = proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}"
        raise AudioError(f"espeak-ng failed with voice {voice!r}: {msg[:200]}")


def clear_cache(cache_dir: Path) -> int:
    """Delete every cached render; returns how many files went.

    Renders speak personal data (names from contact fields). On erasure (C17) the
    whole cache goes: it is rebuilt on demand, and its hashed file names cannot
    tell whose text a render holds.
    """
    removed = 0
    if cache_dir.is_dir():
        for path in cache_dir.rglob("*"):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    return removed
