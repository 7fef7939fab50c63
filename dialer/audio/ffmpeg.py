"""The thin I/O shell around Debian's ``ffprobe``/``ffmpeg`` binaries.

Every call runs the binary with ``-nostdin`` and a timeout, captures stderr,
and turns any failure (missing binary, non-zero exit, timeout) into an
``AudioError`` that names the file: nothing from ``subprocess`` leaks out
(errors.py: foreign errors are translated at the boundary).

Raw PCM crosses this boundary as signed 16-bit little-endian bytes
(``s16le``), the sample format Asterisk's ``.sln``/``.sln16`` files use.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dialer.audio.analysis import LevelStats
from dialer.errors import AudioError

#: a 5-minute MP3 decodes in well under a second here; this only stops a hung process
DEFAULT_TIMEOUT_S = 120.0
#: the native decoding streams past (never held); past this an upload is refused:
#: 300 s of 96 kHz stereo fits, a 120 s 7.1-channel 192 kHz file (368 MB) does not
MAX_NATIVE_BYTES = 256 * 1024 * 1024
_CHUNK_BYTES = 1 << 20
_MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decoding pass over a source file (see ``decode_all``)."""

    #: peak and clipping of the decoding at the source's own rate and channel
    #: count, accumulated while it streamed past (it is never held whole)
    native: LevelStats
    native_rate: int
    native_channels: int
    #: mono s16le at 16 kHz and at 8 kHz, downmixed and resampled by ffmpeg
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


#: ffmpeg's last words when the bytes are not audio it knows: they name an
#: errno or a demuxer, which tells staff nothing; said plainly instead
_NOT_AUDIO = (
    "Invalid argument",
    "Invalid data found when processing input",
    "End of file",
    "Operation not permitted",
)
_NOT_AUDIO_SAID = "its contents are not audio in a format we know"


def _first_error(stderr: bytes) -> str:
    """The most telling stderr line: ffmpeg's last line usually states the cause."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return "ffmpeg failed without a message"
    line = lines[-1]
    # "/tmp/upload/broken.mp3: Invalid argument": the file is named already
    if line.rsplit(": ", 1)[-1] in _NOT_AUDIO:
        return _NOT_AUDIO_SAID
    return line if len(line) <= 200 else line[:197] + "..."


def probe_duration(src: Path, *, timeout: float = DEFAULT_TIMEOUT_S) -> float | None:
    """The duration the file's container declares, in seconds (None: it does not say).

    Read from the header only (ffprobe), so an upload that says it lasts three
    hours is refused before a single sample is decoded (issue 8 item 6).
    """
    args = ["ffprobe", "-v", "error", "-select_streams", "a:0"]
    args += ["-show_entries", "format=duration:stream=duration", "-of", "default=nw=1", str(src)]
    out = _run(args, src, timeout=timeout).decode("ascii", "replace")
    durations = []
    for line in out.splitlines():
        _, _, value = line.partition("=")
        try:
            seconds = float(value)
        except ValueError:  # "N/A"
            continue
        if math.isfinite(seconds) and seconds >= 0:
            durations.append(seconds)
    return max(durations) if durations else None


def decode_all(
    src: Path,
    work_dir: Path,
    *,
    wide_rate: int,
    narrow_rate: int,
    max_decode_s: float,
    max_native_bytes: int = MAX_NATIVE_BYTES,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Decoded:
    """Decode the first audio stream three ways in ONE ffmpeg run.

    Starting ffmpeg costs about 0.1 s here, more than decoding a short
    prompt, so the native-format copy (a WAV on stdout, whose header gives
    the rate and channel count) and the two mono resamplings (raw files in
    ``work_dir``) come from a single process. ffmpeg's resampler low-pass
    filters before decimating, unlike ``audioop.ratecv`` (pydub's
    ``set_frame_rate``), which aliases when 44.1 kHz is brought down to 8 kHz.

    Memory stays bounded whatever the upload (issue 8 item 6): ffmpeg
    downmixes and resamples the copies Python keeps, at most ``max_decode_s``
    seconds are decoded, and the native copy is only streamed through
    :class:`LevelStats` in 1 MiB chunks; once it passes ``max_native_bytes``
    ffmpeg is stopped and the file refused.
    """
    wide_path = work_dir / "wide.raw"
    narrow_path = work_dir / "narrow.raw"
    args = ["ffmpeg", "-nostdin", "-v", "error", "-t", f"{max_decode_s:.3f}", "-i", str(src)]
    args += ["-map", "0:a:0", "-map_metadata", "-1", "-bitexact"]
    args += ["-acodec", "pcm_s16le", "-f", "wav", "pipe:1"]
    for path, rate in ((wide_path, wide_rate), (narrow_path, narrow_rate)):
        args += ["-map", "0:a:0", "-ac", "1", "-ar", str(rate)]
        args += ["-acodec", "pcm_s16le", "-f", "s16le", "-y", str(path)]
    stats = _stream_native(args, src, max_native_bytes, timeout)
    try:
        wide, narrow = wide_path.read_bytes(), narrow_path.read_bytes()
    except OSError as exc:
        raise AudioError(f"{src}: ffmpeg produced no output ({exc.strerror})") from exc
    return Decoded(stats, stats.sample_rate, stats.channels, wide, narrow)


def _stream_native(args: list[str], src: Path, max_bytes: int, timeout: float) -> LevelStats:
    """Run ffmpeg, feeding its WAV on stdout to LevelStats chunk by chunk."""
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
            )
        except FileNotFoundError as exc:
            raise AudioError(
                f"ffmpeg is not installed; install Debian's ffmpeg package (needed to read {src})"
            ) from exc
        except OSError as exc:
            raise AudioError(f"{src}: cannot run ffmpeg: {exc.strerror}") from exc
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, stop)
        timer.start()
        too_big: LevelStats | None = None
        try:
            assert proc.stdout is not None
            stats, total = _read_native(proc.stdout, src)
            while stats is not None:
                chunk = proc.stdout.read(_CHUNK_BYTES)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    too_big = stats
                    proc.kill()
                    break
                stats.feed(chunk)
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if timed_out.is_set():
            raise AudioError(f"{src}: ffmpeg took longer than {timeout:.0f} s")
        if too_big is not None:
            raise AudioError(
                f"{src}: decodes to more than {max_bytes // (1 << 20)} MiB of audio "
                f"({too_big.channels} channels at {too_big.sample_rate} Hz); export it as "
                "mono or stereo at 48 kHz or less"
            )
        if proc.returncode != 0:
            errors.seek(0)
            stderr = errors.read(64 * 1024)
            if b"matches no streams" in stderr:
                raise AudioError(f"{src}: contains no audio stream")
            raise AudioError(f"{src}: unreadable or corrupt audio ({_first_error(stderr)})")
        if stats is None:
            raise AudioError(f"{src}: ffmpeg did not produce WAV output")
        return stats


def _read_native(stream: IO[bytes], what: Path | str) -> tuple[LevelStats | None, int]:
    """Read the WAV header ffmpeg writes first; the stats with the PCM read so far.

    A piped WAV cannot be seeked back to fix its size fields, so the
    ``data`` chunk is taken to run to the end of the stream (the stdlib
    ``wave`` module would trust the bogus size).
    """
    head = b""
    while len(head) < _MAX_HEADER_BYTES:
        chunk = stream.read(4096)
        if not chunk:
            return None, 0
        head += chunk
        if len(head) < 12:
            continue
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AudioError(f"{what}: ffmpeg did not produce WAV output")
        pos, rate, channels = 12, 0, 0
        while pos + 8 <= len(head):
            chunk_id = head[pos : pos + 4]
            size = int.from_bytes(head[pos + 4 : pos + 8], "little")
            body = pos + 8
            if chunk_id == b"fmt " and body + 8 <= len(head):
                channels = int.from_bytes(head[body + 2 : body + 4], "little")
                rate = int.from_bytes(head[body + 4 : body + 8], "little")
            elif chunk_id == b"data":
                if not rate or not channels:
                    raise AudioError(f"{what}: ffmpeg produced a WAV without a format")
                stats = LevelStats(channels, rate)
                stats.feed(head[body:])
                return stats, len(head) - body
            pos = body + size + (size & 1)
    raise AudioError(f"{what}: ffmpeg produced an unreadable WAV header")


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
