"""Real audio files for the audio tests, made with espeak-ng, sox and ffmpeg.

Nothing here is a mock: every file is produced by the same Debian tools a
district would use (or that produced their uploads), in the formats the
issue lists: 44.1 kHz stereo MP3, 48 kHz 24-bit WAV, OGG/Opus, FLAC, M4A/AAC.
"""

from __future__ import annotations

import random
import subprocess
import wave
from pathlib import Path

TEXT = "This is a message from Example School District about tomorrow's schedule."


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def speech_wav(path: Path, text: str = TEXT, voice: str = "en-us") -> Path:
    """espeak-ng speech (22.05 kHz mono 16-bit WAV)."""
    run("espeak-ng", "-v", voice, "-s", "160", "-w", str(path), text)
    return path


def duration(path: Path) -> float:
    """Length per sox (``soxi -D``), independent of the code under test."""
    out = subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def wav_format(path: Path) -> tuple[int, int, int]:
    """(rate, sample width in bytes, channels) read with the stdlib."""
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getsampwidth(), w.getnchannels()


def reencode(src: Path, dest: Path, *ffmpeg_args: str) -> Path:
    run("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *ffmpeg_args, str(dest))
    return dest


def make_formats(src_wav: Path, out_dir: Path) -> dict[str, Path]:
    """The same speech in every format the importer must accept."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "mp3-44k1-stereo": reencode(
            src_wav, out_dir / "speech.mp3", "-ar", "44100", "-ac", "2", "-b:a", "128k"
        ),
        "wav-48k-24bit": out_dir / "speech-48k-24.wav",
        "ogg-opus": reencode(
            src_wav, out_dir / "speech.ogg", "-ar", "48000", "-ac", "2", "-c:a", "libopus"
        ),
        "flac": out_dir / "speech.flac",
        "m4a-aac": reencode(src_wav, out_dir / "speech.m4a", "-ar", "44100", "-c:a", "aac"),
        "wav-8bit-11k": out_dir / "speech-8bit.wav",
    }
    run("sox", str(src_wav), "-r", "48000", "-b", "24", "-c", "2", str(files["wav-48k-24bit"]))
    run("sox", str(src_wav), "-r", "44100", str(files["flac"]))
    run("sox", str(src_wav), "-r", "11025", "-b", "8", str(files["wav-8bit-11k"]))
    return files


def silent_wav(path: Path, seconds: float = 3.0, rate: int = 44100) -> Path:
    run("sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(path), "trim", "0", str(seconds))
    return path


def empty_wav(path: Path) -> Path:
    """A valid WAV header with zero frames."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"")
    return path


def clipped_wav(path: Path, seconds: float = 2.0) -> Path:
    """A sine driven 6 dB past full scale: sox clips it (about 2/3 of samples at the rails)."""
    run(
        "sox", "-V0", "-n", "-r", "16000", "-b", "16", str(path),
        "synth", str(seconds), "sine", "440", "vol", "2",
    )  # fmt: skip
    return path


def random_bytes(path: Path, size: int = 20000, seed: int = 4) -> Path:
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def truncated(src: Path, path: Path, keep: int = 40) -> Path:
    path.write_bytes(src.read_bytes()[:keep])
    return path


def tone_wav(path: Path, seconds: float, rate: int = 8000, freq: int = 440) -> Path:
    """A clean sine at -6 dBFS (speech stand-in for long files)."""
    run(
        "sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(path),
        "synth", str(seconds), "sine", str(freq), "vol", "0.5",
    )  # fmt: skip
    return path


def with_trailing_silence(src: Path, path: Path, seconds: float, rate: int = 8000) -> Path:
    """``src`` as 8 kHz mono 16-bit with ``seconds`` of digital silence appended."""
    run(
        "sox", str(src), "-r", str(rate), "-c", "1", "-b", "16", str(path), "pad", "0", str(seconds)
    )
    return path


def with_trailing_hiss(src: Path, path: Path, seconds: float, level_db: float) -> Path:
    """``src`` followed by ``seconds`` of white noise ``level_db`` under the speech's RMS.

    Models a recording that ends in room noise: quiet enough that nobody
    hears words in it, loud enough that conversion does not trim it.
    """
    speech_rms = _rms_db(src)
    noise = path.with_name(path.stem + "-noise.wav")
    gain = speech_rms - level_db - _WHITENOISE_RMS_DB
    run(
        "sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(noise),
        "synth", str(seconds), "whitenoise", "gain", f"{gain:.2f}",
    )  # fmt: skip
    run("sox", str(src), str(noise), str(path))
    return path


def with_trailing_hum(src: Path, path: Path, seconds: float, level_db: float) -> Path:
    """``src`` followed by ``seconds`` of a steady 300 Hz hum ``level_db`` under the
    speech's RMS (a ventilation hum at the end of a recording).

    Unlike white noise, whose level in each 10 ms chunk varies from run to run
    (sox seeds it anew), a sine has the same level in every chunk (three whole
    periods), and espeak-ng's speech is the same on every run: the file, and what
    the importer and the C9 check make of it, are the same every time.
    """
    hum = path.with_name(path.stem + "-hum.wav")
    run(
        "sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(hum),
        "synth", str(seconds), "sine", "300", "gain", f"{_rms_db(src) - level_db:.2f}",
    )  # fmt: skip
    run("sox", str(src), str(hum), str(path))
    return path


#: RMS of sox's full-scale white noise (uniform distribution: -4.77 dBFS)
_WHITENOISE_RMS_DB = -4.77


def _rms_db(path: Path) -> float:
    out = subprocess.run(
        ["sox", str(path), "-n", "stats"], check=True, capture_output=True, text=True
    )
    for line in out.stderr.splitlines():
        if line.startswith("RMS lev dB"):
            return float(line.split()[3])
    raise AssertionError("sox stats gave no RMS level")
