"""The FastAGI ``broadcast`` route: the call's voice, steered by its state machine.

Asterisk hands every answered campaign call to ``agi://…/broadcast,<call id>``
(asterisk_conf/extensions.conf, context ``dialer-answered``). The runner
registered the call (a :class:`~dialer.campaign.call.Call`) before the
originate was sent. This route decides nothing: it tells the call's machine
that the session began, then carries out the ``Play`` / ``Listen`` /
``HangUp`` commands the machine gives it and reports what happened (a segment
played to its end, a key stopped it, the listening time ran out). What a 9 or
an 8 means, when the revocation is committed and when the confirmation plays
is :mod:`dialer.campaign.callflow`'s business (C10, C16).

C10: every segment is played with ``STREAM FILE name "98*"`` (``Playback()``
would swallow DTMF), so 9 is caught during any prompt; keys pressed between
two AGI commands reach the machine through AMI ``DTMFEnd`` events instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from dialer.campaign.call import Call
from dialer.campaign.callevents import (
    AgiEnded,
    AgiStarted,
    DigitHeard,
    HangUp,
    Listen,
    Play,
    PlaybackFinished,
)
from dialer.telephony.fastagi import AgiSession, CallHungUp

log = structlog.get_logger("dialer.broadcast")


class CallRegistry:
    """call id → call, shared by the runner and the FastAGI route."""

    def __init__(self) -> None:
        self._calls: dict[str, Call] = {}

    def add(self, call: Call) -> None:
        self._calls[call.call_id] = call

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def remove(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    def calls(self) -> list[Call]:
        return list(self._calls.values())

    def __len__(self) -> int:
        return len(self._calls)


def broadcast_route(registry: CallRegistry) -> Callable[[AgiSession], Awaitable[None]]:
    async def handle(session: AgiSession) -> None:
        call_id = session.env.args[0] if session.env.args else ""
        call = registry.get(call_id)
        if call is None or not await call.attach_session(session.env.uniqueid, session.env.channel):
            log.warning("agi session for no call of ours; hanging up", call_id=call_id[:40])
            await session.hangup()
            return
        structlog.contextvars.bind_contextvars(call_id=call_id, campaign=call.campaign.name)
        machine = len(session.env.args) > 1 and session.env.args[1] == "MACHINE"
        call.feed(AgiStarted(machine=machine))
        try:
            await _carry_out(session, call)
        except CallHungUp:
            pass
        finally:
            call.feed(AgiEnded())

    return handle


async def _carry_out(session: AgiSession, call: Call) -> None:
    while True:
        command = await call.next_agi_command(session.hangup_event)
        if command is None:
            return
        if isinstance(command, Play):
            name = call.sound_name(command.sound)
            result = await session.stream_file(name, command.escape)
            if result.digit is None:
                call.agi_reported(PlaybackFinished(command.play_id))
            else:
                call.agi_reported(DigitHeard(result.digit, "agi", command.play_id))
        elif isinstance(command, Listen):
            digit = await session.wait_for_digit(command.milliseconds)
            if digit is None:
                call.agi_reported(PlaybackFinished(command.play_id))
            else:
                call.agi_reported(DigitHeard(digit, "agi", command.play_id))
        elif isinstance(command, HangUp):
            await session.hangup()
            return
