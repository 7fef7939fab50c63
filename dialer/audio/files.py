"""Sound-file I/O: read/write the PCM formats Asterisk plays, atomically.

Asterisk plays 8 kHz 16-bit mono PCM ``.wav``, raw ``.sln`` (8 kHz) and raw
``.sln16`` (16 kHz) natively and picks among files with the same stem (the
file name without extension, which is how AGI ``STREAM FILE`` names them).
Writes go to a temporary file in the destination directory and are renamed
into place (``os.replace`` is atomic on one file system), so a crash or a
refusal never leaves a half-written file where Asterisk could play it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dialer.errors import AudioError, SoundFileError

NARROWBAND_RATE = 8000
WIDEBAND_RATE = 16000
#: extensions Asterisk plays natively, with the sample rate of their raw form
EXTENSIONS = {".wav": None, ".sln": NARROWBAND_RATE, ".sln16": WIDEBAND_RATE}
_SAFE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True, slots=True)
class Pcm:
    """Mono signed 16-bit little-endian PCM and its rate."""

    data: bytes
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.data) / 2 / self.sample_rate


def check_stem(stem: str) -> str:
    """A stem becomes a file name Asterisk is handed: letters, digits, ``._-`` only."""
    if not _SAFE_STEM.match(stem) or stem.endswith((".", ".wav", ".sln", ".sln16")):
        raise AudioError(
            f"invalid sound name {stem!r}: use letters, digits, '.', '_' and '-' "
            "(no extension, no path)"
        )
    return stem


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise AudioError(f"{path}: cannot read: {exc.strerror}") from exc
    return digest.hexdigest()


#: recordings: Asterisk runs as another user and must read them
PUBLIC_SOUND_MODE = 0o644


def private_mode(directory: Path) -> int:
    """File mode for personal audio (TTS renders of names, previews; C18).

    0600; 0640 when ``directory`` is set-group-ID: scripts/install makes the
    sounds folder group ``asterisk`` with the setgid bit, so Asterisk (and only
    its group) can play what the dialer renders there.
    """
    try:
        setgid = bool(directory.stat().st_mode & stat.S_ISGID)
    except OSError:
        setgid = False
    return 0o640 if setgid else 0o600


@contextlib.contextmanager
def atomic_paths(*finals: Path, mode: int = PUBLIC_SOUND_MODE) -> Iterator[list[Path]]:
    """Temporary paths next to ``finals``; all renamed into place on success.

    On any exception every temporary file is removed and no final path is
    touched, so callers never leave a partial sound set behind. The files get
    ``mode`` before they appear under their final names (mkstemp makes them
    0600 meanwhile).
    """
    temps: list[Path] = []
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
            os.close(fd)
            temps.append(Path(name))
        yield temps
        for temp, final in zip(temps, finals, strict=True):
            os.chmod(temp, mode)
            os.replace(temp, final)
    except OSError as exc:
        raise AudioError(f"cannot write {finals[0].parent}: {exc.strerror}") from exc
    finally:
        for temp in temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


def write_wav(path: Path, pcm: Pcm) -> None:
    """Write mono 16-bit PCM as a WAV file at ``path`` (not atomic; see atomic_paths)."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(pcm.sample_rate)
        wav.writeframes(pcm.data)


def read_sound(stem_or_path: Path) -> Pcm:
    """Read a sound Asterisk could play, by stem or by file name.

    A stem is tried as ``.wav``, then ``.sln``, then ``.sln16`` (the order a
    narrowband channel would prefer). WAV files must be 16-bit mono PCM.
    """
    path = find_sound(stem_or_path)
    if path.suffix == ".wav":
        return _read_wav(path)
    rate = EXTENSIONS[path.suffix]
    assert rate is not None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SoundFileError(path, f"cannot read the sound file: {exc.strerror}") from exc
    return Pcm(data[: len(data) - len(data) % 2], rate)


def find_sound(stem_or_path: Path) -> Path:
    if stem_or_path.suffix in EXTENSIONS and stem_or_path.is_file():
        return stem_or_path
    for ext in EXTENSIONS:
        candidate = stem_or_path.with_name(stem_or_path.name + ext)
        if candidate.is_file():
            return candidate
    raise SoundFileError(
        stem_or_path, "the sound file was not found (looked for .wav, .sln, .sln16)"
    )


def _read_wav(path: Path) -> Pcm:
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            data = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        # an OSError's text carries the path: only its reason goes into ``reason``
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SoundFileError(path, f"not a readable PCM WAV file ({why})") from exc
    if channels != 1 or width != 2:
        raise SoundFileError(
            path,
            f"Asterisk needs 16-bit mono PCM, this file is {8 * width}-bit with "
            f"{channels} channels; import it with 'dialer recordings add'",
        )
    return Pcm(data, rate)


def check_playable(stem_or_path: Path, *, sample_rate: int = NARROWBAND_RATE) -> Pcm:
    """Read a sound and insist on the rate Asterisk plays without transcoding."""
    pcm = read_sound(stem_or_path)
    if pcm.sample_rate not in (sample_rate, WIDEBAND_RATE):
        raise SoundFileError(
            stem_or_path,
            f"sample rate {pcm.sample_rate} Hz; Asterisk plays {sample_rate} Hz WAV "
            "natively; import it with 'dialer recordings add'",
        )
    if not pcm.data:
        raise SoundFileError(stem_or_path, "contains no audio (0 s)")
    return pcm


@contextlib.contextmanager
def named(label: str) -> Iterator[None]:
    """A sound-file problem told by what staff know, never by the server's path:
    ``label`` is the segment's ("recording 'org-name' (en, version 1)")."""
    try:
        yield
    except SoundFileError as exc:
        raise AudioError(f"{label}: {exc.reason}", field=exc.field) from exc
