"""Audio cannot exhaust memory (issue 8 item 6).

Real files made by ffmpeg, converted by the real ``convert_recording`` in a
fresh Python process whose peak resident memory (``VmHWM``) is measured.
Before the fix, the 56 KB 7.1-channel 192 kHz FLAC of 120 s peaked at 728 MiB.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialer.audio.convert import convert_recording
from dialer.errors import AudioError

REPO = Path(__file__).resolve().parents[2]
#: a fresh interpreter with pydub and the dialer imported sits near 45 MiB here
PEAK_LIMIT_MIB = 120

MEASURE = """
import sys
from pathlib import Path
from dialer.audio.convert import convert_recording
from dialer.errors import AudioError
try:
    result = convert_recording(Path(sys.argv[1]), Path(sys.argv[2]), "rec", max_seconds=300)
    print("converted", result.duration_s, result.source_channels, result.source_sample_rate)
except AudioError as exc:
    print("refused", exc)
# VmHWM: this process's own high-water mark (ru_maxrss would include the forked
# pytest process this one was exec'ed from)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print("peak_mib", int(hwm.split()[1]) // 1024)
"""


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def convert_in_fresh_process(src: Path, out: Path) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=REPO,
    )
    lines = done.stdout.strip().splitlines()
    return lines[0], int(lines[-1].split()[1])


@pytest.mark.slow
def test_the_56_kb_7_1_channel_192_khz_flac_stays_small_in_memory(tmp_path: Path) -> None:
    src = tmp_path / "surround.flac"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=192000:cl=7.1", "-t", "120", "-c:a", "flac", str(src))
    assert src.stat().st_size < 100_000  # 120 s of 8 x 192 kHz decode to 368 MB
    verdict, peak = convert_in_fresh_process(src, tmp_path / "out")
    print(f"\n7.1 192 kHz FLAC, 120 s: {verdict}; peak {peak} MiB")
    assert verdict.startswith("refused")
    assert "MiB of audio (8 channels at 192000 Hz)" in verdict
    assert peak < PEAK_LIMIT_MIB, f"peak {peak} MiB"


@pytest.mark.slow
def test_a_surround_high_rate_file_under_the_limit_converts_with_bounded_memory(
    tmp_path: Path,
) -> None:
    """Accepted uploads stream too: 30 s of 7.1 at 192 kHz decodes to 92 MB."""
    src = tmp_path / "tone.flac"
    ffmpeg(
        "-f", "lavfi", "-i", "sine=f=440:r=192000",
        "-filter_complex", "[0]pan=7.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0|c6=c0|c7=c0",
        "-t", "30", "-c:a", "flac", str(src),
    )  # fmt: skip
    verdict, peak = convert_in_fresh_process(src, tmp_path / "out")
    print(f"\n7.1 192 kHz FLAC, 30 s tone: {verdict}; peak {peak} MiB")
    assert verdict.startswith("converted") and " 8 192000" in verdict
    assert peak < PEAK_LIMIT_MIB, f"peak {peak} MiB"


def test_a_file_declaring_three_hours_is_refused_before_decoding(tmp_path: Path) -> None:
    src = tmp_path / "long.flac"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "10800", "-c:a", "flac", str(src))
    started = time.monotonic()
    with pytest.raises(AudioError, match=r"declares 10800 s of audio; the maximum is 300 s"):
        convert_recording(src, tmp_path / "out", "rec", max_seconds=300)
    assert time.monotonic() - started < 2.0  # the header was read, nothing decoded
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_file_that_hides_its_length_is_still_cut_at_the_limit(tmp_path: Path) -> None:
    """Raw ADTS AAC carries no duration in its header: the decode limit still holds."""
    src = tmp_path / "stream.aac"
    ffmpeg("-f", "lavfi", "-i", "sine=f=300:r=8000", "-t", "70", "-c:a", "aac", "-f", "adts",
           str(src))  # fmt: skip
    with pytest.raises(AudioError, match=r"(more than 61 s long|declares)"):
        convert_recording(src, tmp_path / "out", "rec", max_seconds=1)
