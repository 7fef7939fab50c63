"""Turn any common audio file into the sound files Asterisk plays natively.

``convert_recording`` accepts whatever ffmpeg decodes (WAV of any rate,
width and channel count, MP3, M4A/AAC, OGG/Opus, FLAC ...) and writes

* ``<stem>.wav``   8 kHz 16-bit mono PCM: what a G.711 call plays without
  transcoding (Asterisk picks the file by stem, see files.py);
* ``<stem>.sln16`` 16 kHz 16-bit mono raw PCM: used on wideband (HD) trunks.

Pipeline (blocking; the engine calls it through ``asyncio.to_thread``):

0. a file whose header declares more than the maximum length (plus a minute
   of silence) is refused before anything is decoded (ffmpeg.probe_duration);
1. one ffmpeg run decodes the source at its native rate and channel count
   and, downmixed to mono, at 16 kHz and 8 kHz (ffmpeg.decode_all); an
   unreadable file or one without an audio stream is refused here. Python
   keeps only the mono copies; the native one streams past (bounded bytes);
2. refuse empty, silent and clipped sources (clipping is judged on the
   native decoding, where it happened);
3. find the silent ends on the 16 kHz copy, refuse if what remains is
   longer than the maximum;
4. trim both copies and bring them to a fixed RMS target with a peak
   ceiling (analysis.py);
5. write both files atomically (files.atomic_paths).

Every refusal is an ``AudioError`` whose message starts with the file.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dialer.audio import analysis, ffmpeg
from dialer.audio.files import (
    NARROWBAND_RATE,
    PUBLIC_SOUND_MODE,
    WIDEBAND_RATE,
    Pcm,
    atomic_paths,
    check_stem,
    sha256_file,
    write_wav,
)
from dialer.errors import AudioError

#: more than this share of source samples at full scale is refused as clipped
DEFAULT_MAX_CLIPPED_FRACTION = 0.001
#: silence kept at each end after trimming, so words do not start abruptly
DEFAULT_PAD_MS = 50
#: after trimming, less than this is not a usable recording
MIN_AUDIBLE_MS = 100
#: silence a source may carry at its ends beyond the maximum length: it is
#: trimmed away, so it does not count. A file that declares (or turns out to
#: hold) more than ``max_seconds`` plus this is refused: memory stays bounded
#: whatever the upload (issue 8 item 6)
SILENCE_ALLOWANCE_S = 60.0


@dataclass(frozen=True, slots=True)
class ConvertPolicy:
    """Thresholds of the conversion; the defaults are the product's fixed targets."""

    target_rms_dbfs: float = analysis.TARGET_RMS_DBFS
    peak_ceiling_dbfs: float = analysis.PEAK_CEILING_DBFS
    trim_silence_dbfs: float = analysis.TRIM_SILENCE_DBFS
    silent_peak_dbfs: float = analysis.SILENT_PEAK_DBFS
    max_clipped_fraction: float = DEFAULT_MAX_CLIPPED_FRACTION
    pad_ms: int = DEFAULT_PAD_MS
    #: also write the 16 kHz ``.sln16`` (the shipped prompts skip it to stay small)
    wideband: bool = True
    #: mode of the files written (TTS renders of names are private: files.private_mode)
    file_mode: int = PUBLIC_SOUND_MODE


DEFAULT_POLICY = ConvertPolicy()


@dataclass(frozen=True, slots=True)
class ConvertedAudio:
    """The result of one conversion: where the files are and what was measured."""

    path_8k_wav: Path
    #: None when the policy asked for narrowband only
    path_16k_sln16: Path | None
    #: length of the converted (trimmed) audio
    duration_s: float
    sha256_of_source: str
    peak_dbfs: float
    loudness_dbfs: float
    leading_trim_s: float
    trailing_trim_s: float
    source_duration_s: float
    source_sample_rate: int
    source_channels: int

    @property
    def stem(self) -> Path:
        """The path without extension, as AGI ``STREAM FILE`` wants it."""
        return self.path_8k_wav.with_suffix("")


def convert_recording(
    src: Path,
    dest_dir: Path,
    stem: str,
    max_seconds: float,
    *,
    policy: ConvertPolicy = DEFAULT_POLICY,
) -> ConvertedAudio:
    """Convert ``src`` into ``dest_dir/<stem>.wav`` (+ ``.sln16``); AudioError on refusal."""
    check_stem(stem)
    if not src.is_file():
        raise AudioError(f"{src}: file does not exist")
    checksum = sha256_file(src)
    decode_limit = max_seconds + SILENCE_ALLOWANCE_S
    declared = ffmpeg.probe_duration(src)
    if declared is not None and declared > decode_limit:
        # refused before a single sample is decoded: a 3-hour upload costs nothing
        raise AudioError(
            f"{src}: declares {declared:.0f} s of audio; the maximum is {max_seconds:g} s "
            f"(plus {SILENCE_ALLOWANCE_S:.0f} s of silence at the ends)"
        )
    with tempfile.TemporaryDirectory(prefix=".convert-", dir=_work_parent(dest_dir)) as tmp:
        decoded = ffmpeg.decode_all(
            src,
            Path(tmp),
            wide_rate=WIDEBAND_RATE,
            narrow_rate=NARROWBAND_RATE,
            max_decode_s=decode_limit,
        )
    native = decoded.native
    source_duration = native.duration_s
    if source_duration >= decode_limit - 0.5:
        raise AudioError(
            f"{src}: is more than {decode_limit:.0f} s long; the maximum is {max_seconds:g} s"
        )
    _refuse_bad_source(src, native, policy)

    wide_in = analysis.segment_from_pcm(decoded.wide, WIDEBAND_RATE)
    narrow_in = analysis.segment_from_pcm(decoded.narrow, NARROWBAND_RATE)
    lead_ms, trail_ms, gain = _trim_and_gain(src, wide_in, policy)
    wide_out = _cut(wide_in, lead_ms, trail_ms).apply_gain(gain)
    # trimming and gain are linear, so applying them to ffmpeg's 8 kHz copy gives
    # what resampling the processed 16 kHz audio would, without a second ffmpeg run
    narrow_out = _cut(narrow_in, lead_ms, trail_ms).apply_gain(gain)
    duration = analysis.duration_s(wide_out)
    if duration > max_seconds:
        raise AudioError(
            f"{src}: is {duration:.1f} s long after trimming silence; "
            f"the maximum is {max_seconds:g} s"
        )

    wav_path = dest_dir / f"{stem}.wav"
    sln16_path = dest_dir / f"{stem}.sln16" if policy.wideband else None
    finals = [wav_path] if sln16_path is None else [wav_path, sln16_path]
    with atomic_paths(*finals, mode=policy.file_mode) as temps:
        write_wav(temps[0], Pcm(narrow_out.raw_data, NARROWBAND_RATE))
        if sln16_path is not None:
            temps[1].write_bytes(wide_out.raw_data)

    return ConvertedAudio(
        path_8k_wav=wav_path,
        path_16k_sln16=sln16_path,
        duration_s=round(duration, 3),
        sha256_of_source=checksum,
        peak_dbfs=round(analysis.peak_dbfs(narrow_out), 2),
        loudness_dbfs=round(analysis.rms_dbfs(narrow_out), 2),
        leading_trim_s=lead_ms / 1000,
        trailing_trim_s=trail_ms / 1000,
        source_duration_s=round(source_duration, 3),
        source_sample_rate=decoded.native_rate,
        source_channels=decoded.native_channels,
    )


def _refuse_bad_source(src: Path, native: analysis.LevelStats, policy: ConvertPolicy) -> None:
    if native.samples == 0:
        raise AudioError(f"{src}: contains no audio (0 s)")
    peak = native.peak_dbfs
    if peak < policy.silent_peak_dbfs:
        shown = "digital silence" if math.isinf(peak) else f"peak {peak:.1f} dBFS"
        raise AudioError(f"{src}: contains only silence ({shown})")
    clipped = native.clipped_fraction
    if clipped > policy.max_clipped_fraction:
        raise AudioError(
            f"{src}: is clipped: {100 * clipped:.2f}% of samples at full scale "
            f"(limit {100 * policy.max_clipped_fraction:.2f}%); record it again at a lower level"
        )


def _trim_and_gain(
    src: Path, wide: analysis.Segment, policy: ConvertPolicy
) -> tuple[int, int, float]:
    """Milliseconds to cut at each end, and the gain that meets the loudness target.

    The trim threshold is meant for the *normalised* level, so it is applied
    to the source shifted by the gain the whole file would get; trimming
    only raises the RMS, so the final gain is never larger than that guess
    and nothing cut would have been audible after normalisation.
    """
    guess = analysis.normalising_gain_db(wide, policy.target_rms_dbfs, policy.peak_ceiling_dbfs)
    edges = analysis.edge_silence_ms(wide, policy.trim_silence_dbfs - guess)
    total = len(wide)
    if edges.all_silent or total - edges.leading_ms - edges.trailing_ms < MIN_AUDIBLE_MS:
        raise AudioError(f"{src}: contains only silence (nothing above the noise floor)")
    lead = max(0, edges.leading_ms - policy.pad_ms)
    trail = max(0, edges.trailing_ms - policy.pad_ms)
    gain = analysis.normalising_gain_db(
        _cut(wide, lead, trail), policy.target_rms_dbfs, policy.peak_ceiling_dbfs
    )
    return lead, trail, gain


def _cut(seg: analysis.Segment, lead_ms: int, trail_ms: int) -> analysis.Segment:
    return seg[lead_ms : len(seg) - trail_ms]


def _work_parent(dest_dir: Path) -> Path:
    """Scratch space next to the destination (same file system, cleaned up after)."""
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioError(f"cannot create {dest_dir}: {exc.strerror}") from exc
    return dest_dir
