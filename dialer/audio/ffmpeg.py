"""The thin I/O shell around Debian's ``ffprobe``/``ffmpeg`` binaries.

Every call runs the binary with ``-nostdin`` and a timeout, captures stderr,
and turns any failure (missing binary, non-zero exit, timeout) into an
``AudioError`` that names the file: nothing from ``subprocess`` leaks out
(errors.py: foreign errors are translated at the boundary).

Raw PCM crosses this boundary as signed 16-bit little-endian bytes
(``s16le``), the sample format Asterisk's ``.sln``/``.sln16`` files use.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from dialer.errors import AudioError

#: a 5-minute MP3 decodes in well under a second here; this only stops a hung process
DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decoding pass over a source file (see ``decode_all``)."""

    #: s16le at the source's own rate and channel count (clipping is judged here)
    native: bytes
    native_rate: int
    native_channels: int
    #: mono s16le at 16 kHz and at 8 kHz, resampled by ffmpeg's filtered resampler
    wide: bytes
    narrow: bytes


def _run(args: list[str], what: Path | str, *, data: bytes | None = None, timeout: float) -> bytes:
    try:
        proc = subprocess.run(args, input=data, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise AudioError(
            f"{args[0]} is not installed; install Debian's ffmpeg package (needed to read {what})"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioError(f"{what}: {args[0]} took longer than {timeout:.0f} s") from exc
    except OSError as exc:
        raise AudioError(f"{what}: cannot run {args[0]}: {exc.strerror}") from exc
    if proc.returncode != 0:
        if b"matches no streams" in proc.stderr:
            raise AudioError(f"{what}: contains no audio stream")
        raise AudioError(f"{what}: unreadable or corrupt audio ({_first_error(proc.stderr)})")
    return proc.stdout


def _first_error(stderr: bytes) -> str:
    """The most telling stderr line: ffmpeg's last line usually states the cause."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return "ffmpeg failed without a message"
    line = lines[-1]
    return line if len(line) <= 200 else line[:197] + "..."


def decode_all(
    src: Path,
    work_dir: Path,
    *,
    wide_rate: int,
    narrow_rate: int,
    max_decode_s: float,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Decoded:
    """Decode the first audio stream three ways in ONE ffmpeg run.

    Starting ffmpeg costs about 0.1 s here, more than decoding a short
    prompt, so the native-format copy (a WAV on stdout, whose header gives
    the rate and channel count) and the two mono resamplings (raw files in
    ``work_dir``) come from a single process. ffmpeg's resampler low-pass
    filters before decimating, unlike ``audioop.ratecv`` (pydub's
    ``set_frame_rate``), which aliases when 44.1 kHz is brought down to 8 kHz.
    At most ``max_decode_s`` seconds are decoded, so a 3-hour upload never
    fills memory; the caller refuses anything that reaches the limit.
    """
    wide_path = work_dir / "wide.raw"
    narrow_path = work_dir / "narrow.raw"
    args = ["ffmpeg", "-nostdin", "-v", "error", "-t", f"{max_decode_s:.3f}", "-i", str(src)]
    args += ["-map", "0:a:0", "-map_metadata", "-1", "-bitexact"]
    args += ["-acodec", "pcm_s16le", "-f", "wav", "pipe:1"]
    for path, rate in ((wide_path, wide_rate), (narrow_path, narrow_rate)):
        args += ["-map", "0:a:0", "-ac", "1", "-ar", str(rate)]
        args += ["-acodec", "pcm_s16le", "-f", "s16le", "-y", str(path)]
    out = _run(args, src, timeout=timeout)
    native, rate, channels = parse_wav_stream(out, src)
    try:
        wide, narrow = wide_path.read_bytes(), narrow_path.read_bytes()
    except OSError as exc:
        raise AudioError(f"{src}: ffmpeg produced no output ({exc.strerror})") from exc
    return Decoded(native, rate, channels, wide, narrow)


def parse_wav_stream(data: bytes, what: Path | str) -> tuple[bytes, int, int]:
    """PCM bytes, rate and channels of a WAV ffmpeg wrote to a pipe.

    A piped WAV cannot be seeked back to fix its size fields, so the
    ``data`` chunk is taken to run to the end of the stream (the stdlib
    ``wave`` module would trust the bogus size).
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError(f"{what}: ffmpeg did not produce WAV output")
    pos, rate, channels = 12, 0, 0
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if chunk_id == b"fmt ":
            channels = int.from_bytes(data[body + 2 : body + 4], "little")
            rate = int.from_bytes(data[body + 4 : body + 8], "little")
        elif chunk_id == b"data":
            if not rate or not channels:
                break
            pcm = data[body:]
            return pcm[: len(pcm) - len(pcm) % (2 * channels)], rate, channels
        pos = body + size + (size & 1)
    raise AudioError(f"{what}: ffmpeg produced a WAV without audio data")


def resample_pcm(
    pcm: bytes,
    from_rate: int,
    to_rate: int,
    *,
    what: Path | str = "audio",
    timeout: float = DEFAULT_TIMEOUT_S,
) -> bytes:
    """Resample mono s16le PCM with ffmpeg's filtered resampler."""
    if from_rate == to_rate:
        return pcm
    args = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-f",
        "s16le",
        "-ar",
        str(from_rate),
        "-ac",
        "1",
        "-i",
        "pipe:0",
        "-ar",
        str(to_rate),
        "-f",
        "s16le",
        "-acodec",
        "pcm_s16le",
        "pipe:1",
    ]
    return _run(args, what, data=pcm, timeout=timeout)
