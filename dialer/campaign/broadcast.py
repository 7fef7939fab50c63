"""The FastAGI ``broadcast`` route: play the message, honour 9 (and 8) at once.

Asterisk hands every answered campaign call to ``agi://…/broadcast,<call id>``
(asterisk_conf/extensions.conf, context ``dialer-answered``). The call's
context was registered by the runner before the originate was sent.

C10: every segment is played with ``STREAM FILE name "98*"`` (``Playback()``
would swallow DTMF), so 9 is accepted from answer to hangup, during any prompt;
after the message we keep listening a few seconds. On 9 the revocation is
committed to the store *before* anything else happens on the call; only then
a confirmation plays (never for telemarketing: that call ends at once).
C16: 8 ("wrong person") suppresses the number for staff review.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog

from dialer.consent.model import Purpose, RevocationChannel
from dialer.model.campaign import Campaign
from dialer.model.contact import Contact
from dialer.model.outcome import Outcome
from dialer.store.store import Store
from dialer.telephony.fastagi import AgiSession, CallHungUp

log = structlog.get_logger("dialer.broadcast")

OPT_OUT_DIGIT = "9"
WRONG_NUMBER_DIGIT = "8"
REPEAT_DIGIT = "*"
ESCAPE_DIGITS = OPT_OUT_DIGIT + WRONG_NUMBER_DIGIT + REPEAT_DIGIT
#: how long we keep listening for a 9 after the message ended
LISTEN_AFTER_MS = 4000
MAX_REPEATS = 2


@dataclass(frozen=True)
class PlayPlan:
    """The sound files of one call, as Asterisk names them (no extension)."""

    segments: Sequence[str]
    optout_confirmation: str
    wrong_number_confirmation: str
    language: str = "en"
    #: segments that fell back to the default language (shown in the report)
    fallbacks: tuple[str, ...] = ()
    #: what each entry of ``segments`` is (identification, body ...), for the record
    kinds: tuple[str, ...] = ()
    #: the voicemail version, for an answering machine (hotline instead of press 9)
    voicemail: Sequence[str] = ()


@dataclass
class CallContext:
    call_id: str
    campaign: Campaign
    contact: Contact
    plan: PlayPlan
    #: the route's verdict; None until the message ran
    outcome: Outcome | None = None
    digits: str = ""
    answered: bool = False
    notes: list[str] = field(default_factory=list)
    #: digits AMI saw on the call (DTMFEnd events): a key pressed between two AGI
    #: commands reaches AMI even when no STREAM FILE was listening (C10)
    ami_digits: Callable[[], str] = lambda: ""


class CallRegistry:
    """call id → context, shared by the runner and the FastAGI route."""

    def __init__(self) -> None:
        self._calls: dict[str, CallContext] = {}

    def add(self, context: CallContext) -> None:
        self._calls[context.call_id] = context

    def get(self, call_id: str) -> CallContext | None:
        return self._calls.get(call_id)

    def remove(self, call_id: str) -> None:
        self._calls.pop(call_id, None)


def broadcast_route(
    registry: CallRegistry, store: Store
) -> Callable[[AgiSession], Awaitable[None]]:
    async def handle(session: AgiSession) -> None:
        call_id = session.env.args[0] if session.env.args else ""
        context = registry.get(call_id)
        if context is None:
            log.warning("agi call for unknown call id; hanging up", call_id=call_id[:40])
            await session.hangup()
            return
        structlog.contextvars.bind_contextvars(call_id=call_id, campaign=context.campaign.name)
        context.answered = True
        await store.campaigns.mark_answered(call_id)
        machine = len(session.env.args) > 1 and session.env.args[1] == "MACHINE"
        try:
            if machine and context.plan.voicemail:
                await _leave_voicemail(session, context)
            else:
                await _play_message(session, context, store)
        except CallHungUp:
            if context.outcome is None:
                context.outcome = Outcome.COMPLETED
                context.notes.append("callee hung up during the message")

    return handle


async def _play_message(session: AgiSession, context: CallContext, store: Store) -> None:
    digit = await _play_segments(session, context)
    if digit is None:
        digit = await session.wait_for_digit(LISTEN_AFTER_MS)
        if digit is not None:
            context.digits += digit
        else:
            digit = _digit_seen_by_ami(context)
    if digit == OPT_OUT_DIGIT:
        await _opt_out(session, context, store)
    elif digit == WRONG_NUMBER_DIGIT:
        await _wrong_number(session, context, store)
    else:
        context.outcome = Outcome.COMPLETED
        await session.hangup()


async def _leave_voicemail(session: AgiSession, context: CallContext) -> None:
    """An answering machine (AMD): the voicemail version, once, then hang up (C11)."""
    context.notes.append("answering machine: voicemail version left")
    for segment in context.plan.voicemail:
        await session.stream_file(segment, "")
    context.outcome = Outcome.COMPLETED
    await session.hangup()


async def _play_segments(session: AgiSession, context: CallContext) -> str | None:
    """Play every segment; return 9 or 8 as soon as pressed; * starts over."""
    repeats = 0
    index = 0
    segments = context.plan.segments
    while index < len(segments):
        result = await session.stream_file(segments[index], ESCAPE_DIGITS)
        if result.digit is None:
            late = _digit_seen_by_ami(context)
            if late is not None:
                context.digits += late
                return late
            index += 1
            continue
        context.digits += result.digit
        if result.digit in (OPT_OUT_DIGIT, WRONG_NUMBER_DIGIT):
            kinds = context.plan.kinds
            during = kinds[index] if index < len(kinds) else f"segment {index + 1}"
            context.notes.append(f"{result.digit} pressed during {during}")
            return result.digit
        if result.digit == REPEAT_DIGIT and repeats < MAX_REPEATS:
            repeats += 1
            index = 0
        else:
            index += 1
    return None


def _digit_seen_by_ami(context: CallContext) -> str | None:
    """A 9 (or 8) that AMI saw on the call but no AGI command caught."""
    seen = context.ami_digits()
    for digit in (OPT_OUT_DIGIT, WRONG_NUMBER_DIGIT):
        if digit in seen and digit not in context.digits:
            return digit
    return None


async def _opt_out(session: AgiSession, context: CallContext, store: Store) -> None:
    # C10: durable (store, or the fsynced journal) before the call is released or
    # anything else is played; if neither can take it, StoreError ends the call
    # without a confirmation
    await store.revoke_durably(
        context.contact.number,
        RevocationChannel.KEYPAD,
        source_ref=context.call_id,
        recorded_by="keypad",
    )
    context.outcome = Outcome.OPTED_OUT
    log.info("opt-out recorded", channel="keypad")
    if context.campaign.purpose is not Purpose.TELEMARKETING:
        await session.stream_file(context.plan.optout_confirmation, "")
    await session.hangup()


async def _wrong_number(session: AgiSession, context: CallContext, store: Store) -> None:
    await store.consent.suppress_wrong_party(context.contact.number, context.call_id)
    context.outcome = Outcome.WRONG_NUMBER
    log.info("wrong number reported; number suppressed for review")
    await session.stream_file(context.plan.wrong_number_confirmation, "")
    await session.hangup()
