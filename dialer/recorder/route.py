"""The FastAGI ``record`` route: record by phone, called back or called in (issue 14).

``[dialer-record]`` (asterisk_conf/extensions.conf) hands the call to
``agi://…/record``:

* ``exten => callback``: ``dialer recordings record NAME --call-me NUMBER``
  rang a staff phone; the first AGI argument is the call id, which names the
  pending request (recording name, language, operator).
* ``exten => s`` (the call-in line): no call id. The caller enters the phone
  PIN of their console account (``dialer users phone-pin NAME``); three wrong
  PINs end the call (each refusal is audited). A kept take is saved as
  ``call-in-N`` (the next free N, spoken back) under the account's name; an
  optional second argument chooses the language (``AGI(.../record,,es)``).

Either way the flow is ``flow.record_message`` and a kept take goes through
``usecases.recordings.add_recording``, the very path of an uploaded file.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from dialer.audio import prompts as names
from dialer.audio import tts
from dialer.campaign.messages import MessagePlanner
from dialer.errors import AudioError
from dialer.recorder.flow import (
    STOP_KEY,
    CallGone,
    Outcome,
    RecorderPrompts,
    RecordResult,
    Saved,
    Take,
    TakeFile,
    record_message,
)
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.telephony.fastagi import AgiSession, CallHungUp
from dialer.usecases.recordings import add_recording

log = structlog.get_logger("dialer.recorder")

#: longest PIN accepted, and how long the caller has to type it
PIN_DIGITS = 8
PIN_TIMEOUT_MS = 10_000
PIN_TRIES = 3
#: seconds of silence that end a take (RECORD FILE s=)
SILENCE_SECONDS = 3
#: longest take (seconds); the upload limit (audio.max_seconds) still applies on keeping
MAX_TAKE_SECONDS = 180
CALL_IN_PREFIX = "call-in-"
_CALL_IN = re.compile(rf"^{CALL_IN_PREFIX}(\d+)$")


class AgiRecorderChannel:
    """:class:`flow.RecorderChannel` over a FastAGI session."""

    def __init__(self, session: AgiSession) -> None:
        self.session = session

    async def play(self, sound: str, escape_keys: str = "") -> str | None:
        try:
            return (await self.session.stream_file(sound, escape_keys)).digit
        except CallHungUp as exc:
            raise CallGone(str(exc)) from exc

    async def record(self, sound: str, max_ms: int, silence_s: int) -> Take:
        try:
            # offset 0, then BEEP: res_agi reads a non-numeric 7th word as "beep first"
            reply = await self.session.command(
                "RECORD FILE", sound, "wav", STOP_KEY, max_ms, 0, "BEEP", f"s={silence_s}"
            )
        except CallHungUp:
            return Take("hangup")
        ended_by = reply.data or ("hangup" if reply.result == -1 else "timeout")
        code = reply.result or 0
        key = chr(code) if ended_by == "dtmf" and 0 < code < 128 else None
        return Take(ended_by, key, reply.endpos or 0)

    async def wait_for_key(self, timeout_ms: int) -> str | None:
        try:
            return await self.session.wait_for_digit(timeout_ms)
        except CallHungUp as exc:
            raise CallGone(str(exc)) from exc

    async def hangup(self) -> None:
        await self.session.hangup()


@dataclass
class CallMeRequest:
    """A pending "call me to record": what the callback call records, and its result."""

    name: str
    language: str
    operator: str
    result: asyncio.Future[RecordResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Recorder:
    """What both kinds of recording call share: prompts, takes, keeping, speaking."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.planner = MessagePlanner(settings, store)
        self.incoming = settings.audio.sounds_dir / "incoming"
        #: call id -> pending call-me request (registered before the originate)
        self.pending: dict[str, CallMeRequest] = {}

    def prompt(self, name: str, language: str) -> str:
        return self.planner.asterisk_name(self.planner.context.library.resolve(name, language).stem)

    def prompts(self, language: str) -> RecorderPrompts:
        return RecorderPrompts(
            after_tone=self.prompt(names.RECORD_AFTER_TONE, language),
            playback=self.prompt(names.RECORD_PLAYBACK, language),
            menu=self.prompt(names.RECORD_MENU, language),
            again=self.prompt(names.RECORD_AGAIN, language),
            cancelled=self.prompt(names.RECORD_CANCELLED, language),
            invalid=self.prompt(names.HOTLINE_INVALID, language),
        )

    def new_take_factory(self) -> Callable[[int], TakeFile]:
        self.incoming.mkdir(parents=True, exist_ok=True)
        call = uuid.uuid4().hex[:16]

        def new_take(number: int) -> TakeFile:
            path = self.incoming / f"take-{call}-{number}.wav"
            return TakeFile(self.planner.asterisk_name(path.with_suffix("")), path)

        return new_take

    def keeper(self, name: str, language: str, operator: str) -> Callable[[Path], Awaitable[Saved]]:
        async def keep(path: Path) -> Saved:
            if not await asyncio.to_thread(path.exists):
                raise AudioError("nothing was recorded (Asterisk wrote no file)")
            added = await add_recording(
                self.settings,
                self.store,
                path,
                name,
                language,
                operator,
                source_name="recorded by phone",
            )
            rec = added.recording
            return Saved(rec.name, rec.language, rec.version, rec.duration)

        return keep

    def speaker(self, language: str) -> Callable[[str], Awaitable[str]]:
        cache = self.planner.context.tts_cache_dir
        key = self.planner.context.tts_name_key
        lang = language if tts.voice_for(language) else self.settings.audio.default_language

        async def speak(text: str) -> str:
            wav = await asyncio.to_thread(tts.render_text, text, lang, cache, name_key=key)
            return self.planner.asterisk_name(wav.with_suffix(""))

        return speak

    async def record(
        self, session: AgiSession, name: str, language: str, operator: str
    ) -> RecordResult:
        return await record_message(
            AgiRecorderChannel(session),
            self.prompts(language),
            self.new_take_factory(),
            self.keeper(name, language, operator),
            self.speaker(language),
            max_seconds=min(MAX_TAKE_SECONDS, self.settings.audio.max_seconds),
            silence_seconds=SILENCE_SECONDS,
        )

    async def next_call_in_name(self) -> str:
        used = [
            int(m.group(1))
            for r in await self.store.recordings.all()
            if (m := _CALL_IN.match(r.name))
        ]
        return f"{CALL_IN_PREFIX}{max(used, default=0) + 1}"


def record_route(recorder: Recorder) -> Callable[[AgiSession], Awaitable[None]]:
    async def handle(session: AgiSession) -> None:
        args = session.env.args
        call_id = args[0] if args else ""
        if call_id:
            await _callback(recorder, session, call_id)
        else:
            language = args[1] if len(args) > 1 and args[1] else None
            await _call_in(recorder, session, language)

    return handle


async def _callback(recorder: Recorder, session: AgiSession, call_id: str) -> None:
    request = recorder.pending.get(call_id)
    if request is None:
        log.warning("recording call for an unknown call id; hanging up", call_id=call_id[:40])
        await session.hangup()
        return
    try:
        result = await recorder.record(session, request.name, request.language, request.operator)
    except BaseException as exc:
        if not request.result.done():
            request.result.set_exception(exc)
        raise
    if not request.result.done():
        request.result.set_result(result)


async def _call_in(recorder: Recorder, session: AgiSession, language: str | None) -> None:
    lang = language or recorder.settings.audio.default_language
    try:
        await session.answer()
        user = await _ask_pin(recorder, session, lang)
    except CallHungUp:
        return
    if user is None:
        return
    name = await recorder.next_call_in_name()
    result = await recorder.record(session, name, lang, user)
    await recorder.store.staff.audit(
        "phone-recording",
        {
            "line": "call-in",
            "user": user,
            "outcome": result.outcome.value,
            "recording": result.saved.name if result.saved else None,
            "version": result.saved.version if result.saved else None,
            "takes": result.takes,
        },
    )
    log.info("call-in recording", user=user, outcome=result.outcome.value, name=name)


async def _ask_pin(recorder: Recorder, session: AgiSession, language: str) -> str | None:
    """The account whose PIN the caller typed, or None after PIN_TRIES wrong ones."""
    enter = recorder.prompt(names.RECORD_ENTER_PIN, language)
    wrong = recorder.prompt(names.RECORD_PIN_WRONG, language)
    for attempt in range(1, PIN_TRIES + 1):
        typed = await session.get_data(enter, PIN_TIMEOUT_MS, PIN_DIGITS)
        digits = typed.digits.strip()
        log.info("recording line: PIN typed", digits=len(digits), timed_out=typed.timed_out)
        user = await recorder.store.staff.user_for_pin(digits) if digits.isdigit() else None
        if user is not None:
            return user
        await recorder.store.staff.record_pin_failure(
            f"call-in recording line: wrong PIN (try {attempt} of {PIN_TRIES})"
        )
        await session.stream_file(wrong, "")
    await session.stream_file(recorder.prompt(names.GOODBYE, language), "")
    await session.hangup()
    return None


__all__ = ["CallMeRequest", "Outcome", "Recorder", "record_route"]
