"""Level, silence and clipping measurements on decoded PCM (no I/O).

Everything here works on pydub ``AudioSegment`` objects holding 16-bit PCM
(pydub does the per-chunk RMS and gain in C through ``audioop``). Levels are
in dBFS: 0 dBFS is a full-scale square wave's RMS; digital silence is
``-inf``.

Two thresholds matter and are deliberately different:

* ``TRIM_SILENCE_DBFS`` (-50 dBFS on the normalised audio) decides what
  conversion cuts off the ends. It is low so that a soft last syllable is
  never cut.
* ``SPEECH_DBFS`` (-40 dBFS on the normalised audio, 20 dB under the -20 dBFS
  speech target) decides what the C9 validator counts as "nothing being
  said". A quiet hiss between the two survives trimming and still counts
  as silence before the opt-out instruction (COMPLIANCE.md C9).
"""

from __future__ import annotations

import math
import warnings
from array import array
from dataclasses import dataclass
from typing import Any

with warnings.catch_warnings():
    # pydub imports the stdlib ``audioop``, deprecated since 3.11 (PEP 594;
    # ``audioop-lts`` replaces it on 3.13+). Import pydub through this module
    # only, so the warning never reaches a warnings-as-errors test run.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

#: chunk length for silence detection; 10 ms is what pydub.silence uses
CHUNK_MS = 10
TRIM_SILENCE_DBFS = -50.0
SPEECH_DBFS = -40.0
#: a file whose loudest sample is below this holds nothing worth playing
SILENT_PEAK_DBFS = -50.0
#: fixed loudness target (RMS) and peak ceiling for every converted file
TARGET_RMS_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0
#: a 16-bit sample within one step of full scale counts as clipped
_CLIP_VALUES = (32767, 32766, -32767, -32768)

Segment = Any  # pydub.AudioSegment (untyped library)

__all__ = [
    "CHUNK_MS",
    "PEAK_CEILING_DBFS",
    "SILENT_PEAK_DBFS",
    "SPEECH_DBFS",
    "TARGET_RMS_DBFS",
    "TRIM_SILENCE_DBFS",
    "AudioSegment",
    "Edges",
    "LevelStats",
    "clipped_fraction",
    "duration_s",
    "edge_silence_ms",
    "normalising_gain_db",
    "peak_dbfs",
    "rms_dbfs",
    "segment_from_pcm",
]


def segment_from_pcm(pcm: bytes, sample_rate: int, channels: int = 1) -> Segment:
    """Wrap signed 16-bit little-endian PCM (whole frames only) in an AudioSegment."""
    frame = 2 * channels
    usable = len(pcm) - len(pcm) % frame
    return AudioSegment(
        data=pcm[:usable], sample_width=2, frame_rate=sample_rate, channels=channels
    )


def duration_s(seg: Segment) -> float:
    return float(seg.frame_count()) / float(seg.frame_rate)


def rms_dbfs(seg: Segment) -> float:
    """RMS level in dBFS (-inf for digital silence or empty audio)."""
    if len(seg) == 0 or seg.rms == 0:
        return -math.inf
    return float(seg.dBFS)


def peak_dbfs(seg: Segment) -> float:
    """Loudest sample in dBFS (-inf for digital silence or empty audio)."""
    if len(seg.raw_data) == 0 or seg.max == 0:
        return -math.inf
    return float(seg.max_dBFS)


def clipped_fraction(seg: Segment) -> float:
    """Share of samples (over all channels) at 16-bit full scale.

    Decoders saturate overshooting samples to full scale when producing
    16-bit PCM, so this also catches clipping in lossy sources whose decoded
    float samples exceed 1.0.
    """
    if seg.sample_width != 2:
        seg = seg.set_sample_width(2)
    samples = array("h", seg.raw_data[: len(seg.raw_data) - len(seg.raw_data) % 2])
    if not samples:
        return 0.0
    clipped = sum(samples.count(v) for v in _CLIP_VALUES)
    return clipped / len(samples)


class LevelStats:
    """Peak and clipping of 16-bit PCM, fed chunk by chunk (issue 8 item 6).

    The native decoding of an upload is judged for silence and clipping where
    it happened, at its own rate and channel count, but it is never held
    whole: a 120 s 7.1-channel 192 kHz FLAC decodes to 368 MB. Same figures
    as ``peak_dbfs`` and ``clipped_fraction`` on the whole decoding.
    """

    def __init__(self, channels: int, sample_rate: int) -> None:
        self.channels = channels
        self.sample_rate = sample_rate
        self.samples = 0
        self.clipped = 0
        self._peak = 0
        self._carry = b""

    def feed(self, chunk: bytes) -> None:
        data = self._carry + chunk
        usable = len(data) - len(data) % 2
        self._carry = data[usable:]
        if not usable:
            return
        block = data[:usable]
        self._peak = max(
            self._peak,
            AudioSegment(data=block, sample_width=2, frame_rate=self.sample_rate, channels=1).max,
        )
        samples = array("h", block)
        self.samples += len(samples)
        self.clipped += sum(samples.count(v) for v in _CLIP_VALUES)

    @property
    def duration_s(self) -> float:
        return self.samples / self.channels / self.sample_rate if self.channels else 0.0

    @property
    def peak_dbfs(self) -> float:
        return 20 * math.log10(self._peak / 32768) if self._peak else -math.inf

    @property
    def clipped_fraction(self) -> float:
        return self.clipped / self.samples if self.samples else 0.0


@dataclass(frozen=True, slots=True)
class Edges:
    """Silence at the start and end of a segment, in milliseconds."""

    leading_ms: int
    trailing_ms: int
    #: True when no chunk reached the threshold at all
    all_silent: bool


def edge_silence_ms(seg: Segment, threshold_dbfs: float, chunk_ms: int = CHUNK_MS) -> Edges:
    """Leading and trailing silence: runs of ``chunk_ms`` chunks below ``threshold_dbfs``."""
    total = len(seg)  # milliseconds
    if total == 0:
        return Edges(0, 0, True)
    starts = range(0, total, chunk_ms)
    first_loud = next((s for s in starts if _loud(seg[s : s + chunk_ms], threshold_dbfs)), None)
    if first_loud is None:
        return Edges(total, total, True)
    last_loud = next(s for s in reversed(starts) if _loud(seg[s : s + chunk_ms], threshold_dbfs))
    trailing = max(0, total - (last_loud + chunk_ms))
    return Edges(first_loud, trailing, False)


def _loud(chunk: Segment, threshold_dbfs: float) -> bool:
    return rms_dbfs(chunk) >= threshold_dbfs


def normalising_gain_db(
    seg: Segment,
    target_rms_dbfs: float = TARGET_RMS_DBFS,
    peak_ceiling_dbfs: float = PEAK_CEILING_DBFS,
) -> float:
    """Gain that brings ``seg`` to the RMS target without its peak passing the ceiling.

    A plain peak-limited gain (no compressor): very peaky audio ends up a
    little below the target rather than distorted.
    """
    rms = rms_dbfs(seg)
    peak = peak_dbfs(seg)
    if math.isinf(rms) or math.isinf(peak):
        return 0.0
    return min(target_rms_dbfs - rms, peak_ceiling_dbfs - peak)
