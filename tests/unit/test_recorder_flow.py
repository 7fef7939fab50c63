"""The record-by-phone call flow (issue 14 item 3) against a scripted channel.

The channel plays Asterisk's part: what each prompt and RECORD FILE return is
scripted, and it records every command. A hang-up at an exact moment, or a
silent take, cannot be produced reliably through Asterisk; the live test
(tests/integration/test_record_by_phone_live.py) covers the real path. Takes
are real files on disk (the flow must delete them); "keeping" a take is a
function the test provides (the real one is the upload's conversion).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.errors import AudioError
from dialer.recorder.flow import (
    MAX_TAKES,
    CallGone,
    Outcome,
    RecorderPrompts,
    Saved,
    Take,
    TakeFile,
    record_message,
    spoken_refusal,
    spoken_result,
)

PROMPTS = RecorderPrompts("tone", "playback", "menu", "again", "cancelled", "invalid")


class Phone:
    """Scripted answers: keys (or None) for each play/wait, a Take for each record."""

    def __init__(self, keys: list[str | None], takes: list[Take], *, hang_up_after: int = 0):
        self.keys: Iterator[str | None] = iter(keys)
        self.takes = iter(takes)
        self.log: list[str] = []
        self.hang_up_after = hang_up_after

    def _step(self, entry: str) -> None:
        self.log.append(entry)
        if self.hang_up_after and len(self.log) >= self.hang_up_after:
            raise CallGone("caller hung up")

    async def play(self, sound: str, escape_keys: str = "") -> str | None:
        self._step(f"play {sound}")
        return next(self.keys, None) if escape_keys else None

    async def record(self, sound: str, max_ms: int, silence_s: int) -> Take:
        self._step(f"record {sound} {max_ms} s={silence_s}")
        take = next(self.takes)
        if take.ended_by != "hangup":
            Path(sound + ".wav").write_bytes(b"RIFF")  # noqa: ASYNC240 (Asterisk wrote the file)
        return take

    async def wait_for_key(self, timeout_ms: int) -> str | None:
        self._step(f"wait {timeout_ms}")
        return next(self.keys, None)

    async def hangup(self) -> None:
        self.log.append("hangup")


class Keeper:
    def __init__(self, refusals: list[str] | None = None) -> None:
        self.refusals = list(refusals or [])
        self.kept: list[Path] = []

    async def __call__(self, path: Path) -> Saved:
        assert path.exists()  # noqa: ASYNC240
        self.kept.append(path)
        if self.refusals:
            raise AudioError(self.refusals.pop(0))
        return Saved("closure", "en", 3, 24.2)


async def speak(text: str) -> str:
    return f"tts:{text}"


def takes_in(folder: Path):  # type: ignore[no-untyped-def]
    def new_take(n: int) -> TakeFile:
        stem = folder / f"take-{n}"
        return TakeFile(str(stem), stem.with_suffix(".wav"))

    return new_take


STOPPED = Take("dtmf", "#", 8000 * 20)


async def run(phone: Phone, keeper: Keeper, folder: Path):  # type: ignore[no-untyped-def]
    return await record_message(
        phone, PROMPTS, takes_in(folder), keeper, speak, max_seconds=120, silence_seconds=3
    )


async def test_keep_saves_once_and_speaks_the_result(tmp_path: Path) -> None:
    phone = Phone(keys=[None, None, None, "1"], takes=[STOPPED])
    keeper = Keeper()

    result = await run(phone, keeper, tmp_path)

    assert result.outcome is Outcome.SAVED
    assert result.saved == Saved("closure", "en", 3, 24.2)
    assert keeper.kept == [tmp_path / "take-1.wav"]
    assert phone.log == [
        "play tone",
        f"record {tmp_path / 'take-1'} 120000 s=3",
        "play playback",
        f"play {tmp_path / 'take-1'}",
        "play menu",
        "wait 6000",
        "play tts:Saved as closure, version 3, 24 seconds.",
        "hangup",
    ]
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240  # the take is deleted once converted


async def test_one_pressed_during_the_playback_keeps_at_once(tmp_path: Path) -> None:
    phone = Phone(keys=[None, "1"], takes=[STOPPED])
    result = await run(phone, Keeper(), tmp_path)
    assert result.outcome is Outcome.SAVED
    assert "play menu" not in phone.log


async def test_two_records_again_and_the_second_take_is_kept(tmp_path: Path) -> None:
    phone = Phone(keys=["2", "1"], takes=[STOPPED, Take("timeout", None, 8000 * 30)])
    keeper = Keeper()

    result = await run(phone, keeper, tmp_path)

    assert result.outcome is Outcome.SAVED and result.takes == 2
    assert keeper.kept == [tmp_path / "take-2.wav"]
    assert phone.log.count("play tone") == 2 and "play again" in phone.log
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240


async def test_three_cancels_and_nothing_is_saved(tmp_path: Path) -> None:
    phone = Phone(keys=["3"], takes=[STOPPED])
    keeper = Keeper()

    result = await run(phone, keeper, tmp_path)

    assert result.outcome is Outcome.CANCELLED and result.saved is None
    assert keeper.kept == []
    assert phone.log[-2:] == ["play cancelled", "hangup"]
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240


async def test_hang_up_while_recording_saves_nothing(tmp_path: Path) -> None:
    phone = Phone(keys=[], takes=[Take("hangup", None, 8000 * 5)])
    keeper = Keeper()

    result = await run(phone, keeper, tmp_path)

    assert result.outcome is Outcome.HUNG_UP
    assert keeper.kept == []


async def test_hang_up_during_the_menu_saves_nothing_and_deletes_the_take(tmp_path: Path) -> None:
    phone = Phone(keys=[None, None, None], takes=[STOPPED], hang_up_after=4)
    keeper = Keeper()

    result = await run(phone, keeper, tmp_path)

    assert result.outcome is Outcome.HUNG_UP
    assert keeper.kept == []
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240


async def test_no_choice_after_three_questions_saves_nothing(tmp_path: Path) -> None:
    phone = Phone(keys=[None] * 20, takes=[STOPPED])

    result = await run(phone, Keeper(), tmp_path)

    assert result.outcome is Outcome.NO_ANSWER_TO_MENU
    # the take is played once; the question is asked three times
    assert phone.log.count("play playback") == 1 and phone.log.count("play menu") == 3


async def test_another_key_is_invalid_and_the_question_is_asked_again(tmp_path: Path) -> None:
    phone = Phone(keys=[None, None, None, "7", None, "1"], takes=[STOPPED])

    result = await run(phone, Keeper(), tmp_path)

    assert result.outcome is Outcome.SAVED
    assert "play invalid" in phone.log


async def test_a_refused_take_is_explained_and_recorded_again(tmp_path: Path) -> None:
    refusal = "recording 'take-1.wav' is silent (peak -72.0 dBFS)"
    phone = Phone(keys=["1", "1"], takes=[STOPPED, STOPPED])
    keeper = Keeper([refusal])

    result = await run(phone, keeper, tmp_path)

    assert result.outcome is Outcome.SAVED and result.takes == 2
    assert result.refusals == (refusal,)
    assert "play tts:This recording cannot be used: it is silent." in phone.log


async def test_too_many_refused_takes_gives_up_without_saving(tmp_path: Path) -> None:
    phone = Phone(keys=["1"] * MAX_TAKES, takes=[STOPPED] * MAX_TAKES)
    keeper = Keeper(["is silent"] * MAX_TAKES)

    result = await run(phone, keeper, tmp_path)

    assert result.outcome is Outcome.GAVE_UP and result.takes == MAX_TAKES
    assert len(result.refusals) == MAX_TAKES
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240


async def test_asterisk_unable_to_write_the_take_fails_clearly(tmp_path: Path) -> None:
    phone = Phone(keys=[], takes=[Take("writefile")])
    result = await run(phone, Keeper(), tmp_path)
    assert result.outcome is Outcome.FAILED
    assert "could not record (writefile)" in result.detail


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("recording 'x' is silent", "it is silent"),
        ("recording 'x' is clipped on 3% of samples", "it is too loud and distorted"),
        ("recording 'x' is 400 s long, longer than 300 s", "it is too long"),
        ("ffmpeg cannot read it", "This recording cannot be used."),
    ],
)
def test_refusals_are_spoken_briefly(reason: str, said: str) -> None:
    assert said in spoken_refusal(reason)


def test_the_result_names_recording_version_and_seconds() -> None:
    assert spoken_result(Saved("snow_day-2", "en", 3, 23.6)) == (
        "Saved as snow day 2, version 3, 24 seconds."
    )
