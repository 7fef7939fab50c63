"""Record a message by phone (issue 14 item 3): the call flow, over a tiny channel protocol.

The same flow serves "call me to record" (the dialer rings a staff phone) and
the call-in line (staff dial ``[dialer-record]`` and enter their PIN first,
route.py). It talks to Asterisk only through :class:`RecorderChannel`, so it
runs against the FastAGI session in production and a scripted channel in the
unit tests::

    record-after-tone, then RECORD FILE <take> wav "#" <max ms> BEEP s=<silence>
        (Asterisk stops on "#", on <silence> seconds of silence or at the limit)
    record-playback, the take, record-menu          (each interruptible by 1, 2, 3)
    WAIT FOR DIGIT
        1 -> keep: convert and validate exactly like an uploaded file; on success
             the result is spoken back ("saved as closure, version 3, 24 seconds")
             and the call ends; a refusal is spoken ("it is silent") and the
             caller records again
        2 -> record again
        3 -> record-cancelled, hang up: nothing is saved
        nothing (or another key) -> ask again; after ``MENU_TRIES`` questions
             nothing is saved
    a hang-up at any moment before "1" saves nothing; every take is deleted.

RECORD FILE's reply (res_agi.c ``handle_recordfile``): ``result=<key> (dtmf)``
when an escape key ended it, ``result=0 (timeout)`` at the limit or on
silence, ``result=-1 (hangup)`` when the caller hung up, ``(writefile)`` when
Asterisk could not create the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from dialer.errors import AudioError

KEEP, AGAIN, CANCEL = "1", "2", "3"
MENU_KEYS = KEEP + AGAIN + CANCEL
STOP_KEY = "#"
#: how long to wait for 1/2/3 after the menu was read out
MENU_WAIT_MS = 6000
#: questions without a valid answer before we give up (nothing saved)
MENU_TRIES = 3
#: takes (recordings made in one call) before we give up
MAX_TAKES = 5


class CallGone(Exception):
    """The caller hung up (raised by a channel; control flow, not an error)."""


@dataclass(frozen=True)
class Take:
    """What RECORD FILE reported."""

    ended_by: str  # "dtmf", "timeout" (limit or silence), "hangup", "writefile" ...
    key: str | None = None
    samples: int = 0


class RecorderChannel(Protocol):
    async def play(self, sound: str, escape_keys: str = "") -> str | None:
        """Play a sound (Asterisk's name, no extension); the key that stopped it."""
        ...

    async def record(self, sound: str, max_ms: int, silence_s: int) -> Take: ...

    async def wait_for_key(self, timeout_ms: int) -> str | None: ...

    async def hangup(self) -> None: ...


@dataclass(frozen=True)
class RecorderPrompts:
    """Sound names (as Asterisk plays them) of the flow's fixed prompts."""

    after_tone: str
    playback: str
    menu: str
    again: str
    cancelled: str
    invalid: str


@dataclass(frozen=True)
class Saved:
    """A kept take, converted and catalogued like an upload."""

    name: str
    language: str
    version: int
    seconds: float


class Outcome(StrEnum):
    SAVED = "saved"
    CANCELLED = "cancelled"
    HUNG_UP = "hung-up"
    NO_ANSWER_TO_MENU = "no-choice"
    GAVE_UP = "too-many-takes"
    FAILED = "failed"


@dataclass(frozen=True)
class RecordResult:
    outcome: Outcome
    saved: Saved | None = None
    takes: int = 0
    #: every refusal of a kept take, in order (shown on the CLI)
    refusals: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class TakeFile:
    """One take: where Asterisk writes it and where we read it."""

    asterisk_name: str  # without extension, as RECORD FILE wants it
    path: Path  # the .wav Asterisk writes, as this process sees it


#: kept take -> Saved, or AudioError with the reason (the upload's conversion and checks)
Keep = Callable[[Path], Awaitable[Saved]]
#: text -> a sound name that speaks it (TTS, in the recording's language)
Speak = Callable[[str], Awaitable[str]]


def spoken_result(saved: Saved) -> str:
    name = saved.name.replace("-", " ").replace("_", " ")
    return f"Saved as {name}, version {saved.version}, {round(saved.seconds)} seconds."


def spoken_refusal(reason: str) -> str:
    """A short spoken reason for a refused take; the CLI shows the full message."""
    text = reason.lower()
    for words, said in (
        ("silent", "it is silent"),
        ("clipp", "it is too loud and distorted"),
        ("too long", "it is too long"),
        ("longer than", "it is too long"),
        ("too short", "it is too short"),
    ):
        if words in text:
            return f"This recording cannot be used: {said}."
    return "This recording cannot be used."


async def record_message(
    channel: RecorderChannel,
    prompts: RecorderPrompts,
    new_take: Callable[[int], TakeFile],
    keep: Keep,
    speak: Speak,
    *,
    max_seconds: int,
    silence_seconds: int,
) -> RecordResult:
    """Run the flow; never raises for a caller's hang-up (the result says so)."""
    takes: list[TakeFile] = []
    refusals: list[str] = []
    try:
        while len(takes) < MAX_TAKES:
            take = new_take(len(takes) + 1)
            takes.append(take)
            await channel.play(prompts.after_tone)
            result = await channel.record(take.asterisk_name, max_seconds * 1000, silence_seconds)
            if result.ended_by == "hangup":
                return RecordResult(Outcome.HUNG_UP, takes=len(takes), refusals=tuple(refusals))
            if result.ended_by not in ("dtmf", "timeout"):
                await channel.hangup()
                return RecordResult(
                    Outcome.FAILED,
                    takes=len(takes),
                    refusals=tuple(refusals),
                    detail=f"Asterisk could not record ({result.ended_by})",
                )
            choice = await _menu(channel, prompts, take)
            if choice is None:
                await channel.play(prompts.cancelled)
                await channel.hangup()
                return RecordResult(
                    Outcome.NO_ANSWER_TO_MENU, takes=len(takes), refusals=tuple(refusals)
                )
            if choice == CANCEL:
                await channel.play(prompts.cancelled)
                await channel.hangup()
                return RecordResult(Outcome.CANCELLED, takes=len(takes), refusals=tuple(refusals))
            if choice == AGAIN:
                await channel.play(prompts.again)
                continue
            try:
                saved = await keep(take.path)
            except AudioError as exc:
                refusals.append(str(exc))
                await channel.play(await speak(spoken_refusal(str(exc))))
                await channel.play(prompts.again)
                continue
            # the recording is catalogued: what follows is only telling the caller
            with contextlib.suppress(CallGone):
                await channel.play(await speak(spoken_result(saved)))
                await channel.hangup()
            return RecordResult(Outcome.SAVED, saved, len(takes), tuple(refusals))
        await channel.play(prompts.cancelled)
        await channel.hangup()
        return RecordResult(Outcome.GAVE_UP, takes=len(takes), refusals=tuple(refusals))
    except CallGone:
        return RecordResult(Outcome.HUNG_UP, takes=len(takes), refusals=tuple(refusals))
    finally:
        for take in takes:
            take.path.unlink(missing_ok=True)


async def _menu(channel: RecorderChannel, prompts: RecorderPrompts, take: TakeFile) -> str | None:
    """Play the take back and ask 1/2/3; the choice, or None after MENU_TRIES."""
    for attempt in range(MENU_TRIES):
        key = None
        if attempt == 0:  # the take once; a question asked again is only the question
            key = await channel.play(prompts.playback, MENU_KEYS)
            key = key or await channel.play(take.asterisk_name, MENU_KEYS)
        key = key or await channel.play(prompts.menu, MENU_KEYS)
        key = key or await channel.wait_for_key(MENU_WAIT_MS)
        if key is not None and key in MENU_KEYS:
            return key
        if key is not None:
            await channel.play(prompts.invalid)
    return None
