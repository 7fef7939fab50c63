"""One call's asyncio shell around its pure state machine (callflow.CallFlow).

Everything that happens to a call becomes a :mod:`callevents` event fed to
``Call.feed``: the runner's Originate and its response, AMI events routed by
the call id (``DTMFEnd``, ``Hangup``, the dialplan's ``DialerDial``), the
FastAGI route's playback results, store writes finishing, timers firing. The
machine answers with commands, which this shell carries out and nothing else:

- ``Revoke`` / ``SuppressWrongParty`` / ``RecordOutcome``: a store write in a
  task; its success or failure is fed back (the machine repeats a failed one,
  with a growing pause here, C10: a keypad opt-out is never dropped);
- ``Play`` / ``Listen``: handed to the call's FastAGI session (broadcast.py);
- ``HangUp``: through the AGI session when it is idle, else an AMI Hangup by
  channel id (reaches the call whatever the session is doing);
- ``RecordProgress``: the group-commit progress writer (progress.py);
- ``StartTimer``: ``loop.call_later`` feeding ``Timeout`` back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from dialer.campaign.callevents import (
    CallPolicy,
    Command,
    DialReport,
    DigitHeard,
    Event,
    HangUp,
    Hangup,
    Listen,
    Play,
    RecordOutcome,
    RecordProgress,
    Revoke,
    Sound,
    StartTimer,
    State,
    StoreDone,
    StoreFailed,
    SuppressWrongParty,
    Timeout,
    Write,
)
from dialer.campaign.callflow import CallFlow
from dialer.campaign.progress import ProgressWriter
from dialer.consent.model import RevocationChannel
from dialer.errors import DialerError
from dialer.model.campaign import Campaign, PlayPlan
from dialer.model.contact import Contact
from dialer.model.outcome import Outcome
from dialer.store.store import Store
from dialer.telephony.ami import AmiClient, CallEvents
from dialer.telephony.outcomes import parse_cause

log = structlog.get_logger("dialer.call")

#: how long a FastAGI session waits for AMI to name the call's channel (it
#: normally has, since the channel was created: see Call._channel_is)
CHANNEL_WAIT_S = 2.0
#: pause before the n-th try of a failed store write: 0.1, 0.2, 0.4 ... 5 s
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0

AgiCommand = Play | Listen | HangUp


def retry_pause(attempt: int) -> float:
    """Seconds to wait before try number ``attempt`` (the first try waits nothing)."""
    if attempt <= 1:
        return 0.0
    return float(min(RETRY_FIRST_S * 2 ** (attempt - 2), RETRY_MAX_S))


class Call:
    def __init__(
        self,
        call_id: str,
        campaign: Campaign,
        contact: Contact,
        plan: PlayPlan,
        *,
        store: Store,
        ami: AmiClient,
        progress: ProgressWriter,
        policy: CallPolicy,
        revoke: Callable[[Call], Awaitable[None]] | None = None,
    ) -> None:
        self.call_id = call_id
        self.campaign = campaign
        self.contact = contact
        self.plan = plan
        self.store = store
        self.ami = ami
        self.progress = progress
        self.flow = CallFlow(policy)
        self.notes: list[str] = [f"language fallback {f}" for f in plan.fallbacks]
        self.done = asyncio.Event()
        self._revoke_fn = revoke or commit_keypad_revocation
        self._agi: asyncio.Queue[AgiCommand | None] = asyncio.Queue()
        self._agi_busy = False
        self.session_attached = False
        self._timers: list[asyncio.TimerHandle] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._log = log.bind(call_id=call_id, campaign=campaign.name)

    # -- events in ----------------------------------------------------------

    def feed(self, event: Event) -> None:
        """Hand one event to the machine and carry out its commands."""
        if self.flow.finished:
            return
        for command in self.flow.handle(event):
            self._carry_out(command)
        if self.flow.state in (State.RECORDING, State.DONE):
            self._agi.put_nowait(None)  # the route has nothing more to do
        if self.flow.state is State.DONE:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self.done.set()

    def on_ami_event(self, name: str, msg: Mapping[str, Any], events: CallEvents) -> None:
        """AMI events of this call (routed by call id in telephony/ami.py)."""
        try:
            if name == "Hangup" and _header(msg, "Uniqueid") == self.call_id:
                self.feed(Hangup(events.hangup_cause()))
            elif name == "DTMFEnd":
                if _header(msg, "Uniqueid") == self.call_id and _header(msg, "Direction") == (
                    "Received"
                ):
                    self.feed(DigitHeard(_header(msg, "Digit"), "ami"))
            elif name == "UserEvent":
                self.feed(DialReport(events.dial_status, parse_cause(_header(msg, "Cause"))))
        except Exception:  # never let one call break the AMI reader
            self._log.exception("call.ami_event_failed", ami_event=name)

    @property
    def outcome(self) -> Outcome | None:
        record = self.flow.outcome
        return record.outcome if record is not None and self.flow.finished else None

    # -- the AGI side (broadcast.py) ------------------------------------------

    async def attach_session(self, uniqueid: str, channel: str) -> bool:
        """The first FastAGI session of the call's own channel is ours; any other is refused.

        The answered half of the call (``;1``) carries the ChannelId we assigned
        as its uniqueid (telephony/ami.py), and its name is what AMI reported
        for it (Newchannel). Anyone who can reach the FastAGI port can write a
        header with a call id from a log line and that uniqueid; the channel's
        name (``PJSIP/trunk-0000a3f1``) only Asterisk and AMI know. A session
        claiming our call id from another channel, or a second one, never
        reaches the machine (issue 8 item 1: a forged "9" records nothing).
        """
        if uniqueid != self.call_id:
            self._log.warning("call.agi_session_refused", why="not the call's channel")
            return False
        if not await self._channel_is(channel):
            self._log.warning(
                "call.agi_session_refused", why="not the channel AMI reported for the call"
            )
            return False
        if self.session_attached or self.flow.state in (State.RECORDING, State.DONE):
            self._log.warning("call.agi_session_refused", why="the call has its session")
            return False
        self.session_attached = True
        return True

    async def _channel_is(self, channel: str) -> bool:
        """Whether ``channel`` is the call's channel as AMI reported it.

        AMI names it when the channel is created, long before the answer; the
        wait only covers a manager.conf without the Newchannel event filter,
        where the OriginateResponse (sent at the answer) names it instead.
        """
        events = self.ami.calls.get(self.call_id)
        if events is None:
            return False
        if events.channel is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(events.channel_known.wait(), CHANNEL_WAIT_S)
        if events.channel is None:
            self._log.error(
                "call.channel_unknown",
                hint="AMI never named the call's channel: add 'eventfilter = Event: "
                "Newchannel' to the dialer user in manager.conf",
            )
            return False
        return channel == events.channel

    def agi_reported(self, event: Event) -> None:
        """What the session's last command found (it is idle again)."""
        self._agi_busy = False
        self.feed(event)

    async def next_agi_command(self, hung_up: asyncio.Event) -> AgiCommand | None:
        """The next command for the session; None when the session should end."""
        self._agi_busy = False
        if self._agi.empty() and hung_up.is_set():
            return None
        getter = asyncio.ensure_future(self._agi.get())
        waiter = asyncio.ensure_future(hung_up.wait())
        try:
            await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not getter.done():
            getter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await getter
            return None
        command = getter.result()
        self._agi_busy = command is not None
        return command

    def sound_name(self, sound: Sound) -> str:
        plan = self.plan
        if sound.kind == "segment":
            return plan.segments[sound.index]
        if sound.kind == "voicemail":
            return plan.voicemail[sound.index]
        if sound.kind == "optout-confirmation":
            return plan.optout_confirmation
        return plan.wrong_number_confirmation

    # -- commands out ----------------------------------------------------------

    def _carry_out(self, command: Command) -> None:
        if isinstance(command, Play | Listen):
            self._agi.put_nowait(command)
        elif isinstance(command, HangUp):
            self._hang_up()
        elif isinstance(command, RecordProgress):
            self.progress.mark(self.call_id, command.mark, command.value)
        elif isinstance(command, StartTimer):
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(command.seconds, self.feed, Timeout(command.timer)))
        elif isinstance(command, Revoke):
            self._write(Write.REVOKE, command.attempt, lambda: self._revoke_fn(self))
        elif isinstance(command, SuppressWrongParty):
            self._write(Write.SUPPRESS, command.attempt, self._suppress)
        elif isinstance(command, RecordOutcome):
            self._write(Write.OUTCOME, command.attempt, lambda: self._record(command))

    def _hang_up(self) -> None:
        if self.session_attached and self.flow.agi_open and not self._agi_busy:
            self._agi.put_nowait(HangUp())
            return
        self._spawn(self._ami_hangup())

    async def _ami_hangup(self) -> None:
        with contextlib.suppress(DialerError):
            await self.ami.hangup_call(self.call_id)

    def _write(self, write: Write, attempt: int, action: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await asyncio.sleep(retry_pause(attempt))
            try:
                await action()
            except Exception as exc:  # any failure: the machine decides to try again
                self._log.warning(
                    "call.store_write_failed", write=write.value, attempt=attempt, error=str(exc)
                )
                self.feed(StoreFailed(write, str(exc)))
            else:
                self.feed(StoreDone(write))

        self._spawn(run())

    async def _suppress(self) -> None:
        await self.store.consent.suppress_wrong_party(self.contact.number, self.call_id)
        self._log.info("wrong number reported; number suppressed for review")

    async def _record(self, record: RecordOutcome) -> None:
        note = "; ".join(n for n in (record.detail, record.note, *self.notes) if n)
        await self.store.campaigns.finish(
            self.call_id,
            record.outcome,
            ami_reason=record.reason,
            dial_status=record.dial_status,
            hangup_cause=record.cause,
            digits=record.digits,
            note=note,
        )

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def commit_keypad_revocation(call: Call) -> None:
    """C5/C10: the keypad revocation, through the one revocation function.

    ``revoke_durably`` returns once the revocation is in the store or, when the
    store stays unavailable, in the fsynced journal replayed at every start; if
    neither could take it, it raises and the machine commands it again.
    """
    await call.store.revoke_durably(
        call.contact.number,
        RevocationChannel.KEYPAD,
        source_ref=call.call_id,
        recorded_by="keypad",
    )
    call._log.info("opt-out recorded", channel="keypad")


def _header(msg: Mapping[str, Any], name: str) -> str:
    value = msg.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value) if value is not None else ""
