"""The thin I/O shell around Debian's ``ffprobe``/``ffmpeg`` binaries.

Every call runs the binary with ``-nostdin`` and a timeout, captures stderr,
and turns any failure (missing binary, non-zero exit, timeout) into an
``AudioError`` that names the file: nothing from ``subprocess`` leaks out
(errors.py: foreign errors are translated at the boundary).

Raw PCM crosses this boundary as signed 16-bit little-endian bytes
(``s16le``), the sample format Asterisk's ``.sln``/``.sln16`` files use.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.errors import AudioError

#: a 5-minute MP3 decodes in well under a second here; this only stops a hung process
DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class ProbeInfo:
    """What ffprobe says about the first audio stream of a file."""

    format_name: str
    codec: str
    sample_rate: int
    channels: int
    #: container duration in seconds; None when the container does not say
    duration_s: float | None


def _run(
    args: list[str], what: Path | str, *, data: bytes | None = None, timeout: float
) -> bytes:
    try:
        proc = subprocess.run(
            args, input=data, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise AudioError(
            f"{args[0]} is not installed; install Debian's ffmpeg package "
            f"(needed to read {what})"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioError(f"{what}: {args[0]} took longer than {timeout:.0f} s") from exc
    except OSError as exc:
        raise AudioError(f"{what}: cannot run {args[0]}: {exc.strerror}") from exc
    if proc.returncode != 0:
        raise AudioError(f"{what}: unreadable or corrupt audio ({_first_error(proc.stderr)})")
    return proc.stdout


def _first_error(stderr: bytes) -> str:
    """The most telling stderr line: ffmpeg's last line usually states the cause."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return "ffmpeg failed without a message"
    line = lines[-1]
    return line if len(line) <= 200 else line[:197] + "..."


def probe(src: Path, *, timeout: float = DEFAULT_TIMEOUT_S) -> ProbeInfo:
    """Describe the first audio stream; AudioError when unreadable or without audio."""
    out = _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
            "--",
            str(src),
        ],
        src,
        timeout=timeout,
    )
    try:
        info: dict[str, Any] = json.loads(out.decode("utf-8", "replace"))
    except ValueError as exc:
        raise AudioError(f"{src}: unreadable or corrupt audio (ffprobe output)") from exc
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise AudioError(f"{src}: contains no audio stream")
    stream = streams[0]
    fmt = info.get("format", {})
    return ProbeInfo(
        format_name=str(fmt.get("format_name", "?")),
        codec=str(stream.get("codec_name", "?")),
        sample_rate=_int(stream.get("sample_rate")),
        channels=_int(stream.get("channels")),
        duration_s=_float(stream.get("duration")) or _float(fmt.get("duration")),
    )


def decode(
    src: Path,
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> bytes:
    """Decode the first audio stream to s16le, optionally resampled / downmixed.

    ffmpeg's own resampler low-pass filters before decimating, unlike
    ``audioop.ratecv`` (pydub's ``set_frame_rate``), which aliases when a
    44.1 kHz source is brought down to 8 kHz.
    """
    args = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), "-map", "0:a:0", "-vn"]
    if channels is not None:
        args += ["-ac", str(channels)]
    if sample_rate is not None:
        args += ["-ar", str(sample_rate)]
    args += ["-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    return _run(args, src, timeout=timeout)


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


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
