"""convert_recording on real files made with espeak-ng, sox and ffmpeg (no mocks)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dialer.audio.convert import convert_recording
from dialer.audio.files import read_sound
from dialer.errors import AudioError
from tests.support import audio_files as af


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return af.speech_wav(tmp_path_factory.mktemp("src") / "speech.wav")


@pytest.fixture(scope="module")
def formats(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return af.make_formats(speech, tmp_path_factory.mktemp("formats"))


@pytest.mark.parametrize(
    "kind", ["mp3-44k1-stereo", "wav-48k-24bit", "ogg-opus", "flac", "m4a-aac", "wav-8bit-11k"]
)
def test_converts_every_common_format_to_asterisk_pcm(
    kind: str, formats: dict[str, Path], speech: Path, tmp_path: Path
) -> None:
    result = convert_recording(formats[kind], tmp_path, "rec", max_seconds=60)

    assert result.path_8k_wav == tmp_path / "rec.wav"
    assert af.wav_format(result.path_8k_wav) == (8000, 2, 1)
    # sox measures the output independently of our code
    expected = af.duration(speech) - result.leading_trim_s - result.trailing_trim_s
    assert af.duration(result.path_8k_wav) == pytest.approx(expected, rel=0.10)
    assert af.duration(result.path_8k_wav) == pytest.approx(af.duration(speech), rel=0.10)
    assert result.duration_s == pytest.approx(af.duration(result.path_8k_wav), abs=0.02)
    # the wideband twin: raw 16 kHz 16-bit mono, same length
    assert result.path_16k_sln16 == tmp_path / "rec.sln16"
    wide_seconds = result.path_16k_sln16.stat().st_size / 2 / 16000
    assert wide_seconds == pytest.approx(result.duration_s, abs=0.02)
    assert result.stem == tmp_path / "rec"
    assert len(result.sha256_of_source) == 64


def test_normalises_loudness_to_the_fixed_target(speech: Path, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    af.run("sox", str(speech), str(quiet), "gain", "-25")
    loud_result = convert_recording(speech, tmp_path / "a", "rec", max_seconds=60)
    quiet_result = convert_recording(quiet, tmp_path / "b", "rec", max_seconds=60)

    for result in (loud_result, quiet_result):
        assert -23.0 <= result.loudness_dbfs <= -19.0
        assert result.peak_dbfs <= -0.9
    assert quiet_result.loudness_dbfs == pytest.approx(loud_result.loudness_dbfs, abs=1.0)


def test_trims_leading_and_trailing_silence(speech: Path, tmp_path: Path) -> None:
    padded = tmp_path / "padded.wav"
    af.run("sox", str(speech), str(padded), "pad", "2", "3")

    result = convert_recording(padded, tmp_path / "out", "rec", max_seconds=60)

    assert result.leading_trim_s == pytest.approx(2.0, abs=0.15)
    assert result.trailing_trim_s >= 2.9
    assert af.duration(result.path_8k_wav) == pytest.approx(af.duration(speech), rel=0.10)
    pcm = read_sound(result.stem)
    assert pcm.duration_s == pytest.approx(result.duration_s, abs=0.01)


@pytest.mark.parametrize(
    ("maker", "reason"),
    [
        (lambda d, s: af.random_bytes(d / "noise.mp3"), "unreadable or corrupt"),
        (lambda d, s: af.truncated(s, d / "cut.wav"), "unreadable or corrupt"),
        (lambda d, s: af.empty_wav(d / "empty.wav"), r"contains no audio \(0 s\)"),
        (lambda d, s: af.silent_wav(d / "silent.wav"), "contains only silence"),
        (lambda d, s: af.clipped_wav(d / "clipped.wav"), "is clipped"),
        (lambda d, s: _text_file(d / "notes.ogg"), "unreadable or corrupt"),
    ],
    ids=["random-bytes", "truncated", "empty", "silent", "clipped", "text-file"],
)
def test_refuses_bad_files_with_their_reason(
    maker: object, reason: str, speech: Path, tmp_path: Path
) -> None:
    src = maker(tmp_path, speech)  # type: ignore[operator]
    out = tmp_path / "out"

    with pytest.raises(AudioError, match=reason) as info:
        convert_recording(src, out, "rec", max_seconds=60)

    assert str(src) in str(info.value)  # the message names the file
    assert not list(out.glob("*")) if out.exists() else True  # nothing left behind


def _text_file(path: Path) -> Path:
    path.write_text("this is not audio\n" * 50)
    return path


def test_refuses_a_file_without_an_audio_stream(tmp_path: Path) -> None:
    video = tmp_path / "video.mkv"
    af.run(
        "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=32x32:d=1",
        str(video),
    )  # fmt: skip
    with pytest.raises(AudioError, match="contains no audio stream"):
        convert_recording(video, tmp_path / "out", "rec", max_seconds=60)


def test_refuses_a_file_over_the_maximum_length(tmp_path: Path) -> None:
    src = af.tone_wav(tmp_path / "long.wav", seconds=5)
    with pytest.raises(AudioError, match=r"5\.0 s long after trimming silence; the maximum is 3 s"):
        convert_recording(src, tmp_path / "out", "rec", max_seconds=3)
    assert not (tmp_path / "out" / "rec.wav").exists()


def test_refuses_a_huge_file_without_decoding_it_all(tmp_path: Path) -> None:
    src = af.tone_wav(tmp_path / "huge.wav", seconds=200)
    started = time.monotonic()
    with pytest.raises(AudioError, match="declares 200 s of audio; the maximum is 1 s"):
        convert_recording(src, tmp_path / "out", "rec", max_seconds=1)
    assert time.monotonic() - started < 5


def test_refusal_leaves_an_earlier_version_untouched(speech: Path, tmp_path: Path) -> None:
    first = convert_recording(speech, tmp_path, "rec", max_seconds=60)
    before = first.path_8k_wav.read_bytes()
    with pytest.raises(AudioError):
        convert_recording(af.silent_wav(tmp_path / "s.wav"), tmp_path, "rec", max_seconds=60)
    assert first.path_8k_wav.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.sln16", "rec.wav", "s.wav"]


def test_refuses_missing_file_and_unsafe_names(speech: Path, tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="does not exist"):
        convert_recording(tmp_path / "nope.mp3", tmp_path, "rec", max_seconds=60)
    for bad in ("../evil", "a/b", ".hidden", "x.wav", ""):
        with pytest.raises(AudioError, match="invalid sound name"):
            convert_recording(speech, tmp_path, bad, max_seconds=60)


@pytest.mark.slow
def test_converts_a_60_second_mp3_quickly(speech: Path, tmp_path: Path) -> None:
    """Timing figure for the report: a 60 s 44.1 kHz stereo MP3."""
    long_wav = tmp_path / "long.wav"
    af.run("sox", str(speech), str(long_wav), "repeat", "15", "trim", "0", "60")
    mp3 = af.reencode(long_wav, tmp_path / "long.mp3", "-ar", "44100", "-ac", "2")

    started = time.perf_counter()
    result = convert_recording(mp3, tmp_path / "out", "long", max_seconds=300)
    elapsed = time.perf_counter() - started

    print(f"\n60 s MP3 converted in {elapsed:.2f} s")
    assert result.duration_s == pytest.approx(60, rel=0.10)
    assert elapsed < 10
