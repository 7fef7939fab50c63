"""Start-up recovery: close the calls a dead engine left in flight (issue 13 item 2).

An engine that dies (kill -9, out of memory, a host reboot) leaves attempts in
``dialing`` or ``answered``. The next engine on the store (``campaign run`` or
``serve``; the engine lock makes it the only one) closes every one of them
*before* it dials anything, by what the callee experienced, as far as the
durable progress marks (dialer/campaign/progress.py) and the committed keypad
writes tell:

===========================================  ==================================
what the store shows for the call            closed as
===========================================  ==================================
a keypad revocation committed for the call,  ``opted-out``: final (C10; a 9 the
  or a 9 among its durable digits            store heard but whose revocation
                                             was not committed yet is committed
                                             now: no opt-out is lost)
an 8 among its durable digits                ``wrong-number``: final (C16; the
                                             suppression is committed now if
                                             it was not)
message completed                            ``completed``: final, never
                                             redialled
answered, message not completed              ``interrupted``: dialled again up
                                             to the campaign's
                                             ``retry_interrupted`` (default 1)
never answered                               ``no-answer``: retried per the
                                             campaign's policy (max_attempts,
                                             retry_delay)
===========================================  ==================================

Asterisk may outlive the engine: a call still ringing, or a callee still on
the line, is hung up by its channel id (the ``ChannelId`` the originate set:
telephony/ami.py) and awaited until Asterisk no longer knows it, before the
attempt is closed; so the same person never has two live calls from us.

Attempts of a campaign since cancelled (or whose campaign row is gone) are
closed the same way and never dialled again: the report says so.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from dialer.consent.model import RevocationChannel
from dialer.errors import DialerError, TelephonyError
from dialer.model.campaign import InFlight
from dialer.model.outcome import Outcome
from dialer.store.store import Store

log = structlog.get_logger("dialer.recovery")

OPT_OUT_DIGIT = "9"
WRONG_NUMBER_DIGIT = "8"
#: how long a call Asterisk still carries gets to go away after our Hangup
HANGUP_WAIT_S = 5.0
HANGUP_POLL_S = 0.2

#: hang up one channel by id; False when Asterisk has no such channel (any more)
HangUpFn = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class Closure:
    call_id: str
    outcome: Outcome
    note: str
    #: the keypad write to commit first (a 9 or 8 durable only as a digit mark)
    commit: str = ""


def classify(call: InFlight) -> Closure:
    """Pure: how an attempt left in flight is closed (the table in the module doc)."""
    where = "after a restart of the engine"
    if call.revoked or OPT_OUT_DIGIT in call.digits:
        return Closure(
            call.call_id,
            Outcome.OPTED_OUT,
            f"9 pressed; engine stopped during the call, opt-out kept {where}",
            commit="" if call.revoked else OPT_OUT_DIGIT,
        )
    if WRONG_NUMBER_DIGIT in call.digits:
        return Closure(
            call.call_id,
            Outcome.WRONG_NUMBER,
            f"8 pressed; engine stopped during the call, number suppressed {where}",
            commit=WRONG_NUMBER_DIGIT,
        )
    if call.completed:
        return Closure(
            call.call_id,
            Outcome.COMPLETED,
            "message heard to the end; engine stopped before the call ended",
        )
    if call.answered:
        reached = (
            f", during segment {call.segment_reached + 1}"
            if call.segment_reached is not None
            else ""
        )
        return Closure(
            call.call_id,
            Outcome.INTERRUPTED,
            f"engine stopped during the message{reached}; dialled again "
            "(campaign retry-interrupted)",
        )
    return Closure(
        call.call_id,
        Outcome.NO_ANSWER,
        "engine stopped before the call was answered; retried like no-answer",
    )


@dataclass
class Recovered:
    """What a start-up recovery did, for the log line and the operator's message."""

    calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    #: calls Asterisk still carried, hung up before anything was dialled
    hung_up: int = 0
    #: campaign name (or "#id" when gone) -> calls closed that are never dialled again
    #: because the campaign was cancelled or deleted
    not_redialled: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def message(self) -> str:
        """One line for staff (empty when there was nothing to recover)."""
        if not self.calls:
            return ""
        parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.outcomes.items()))
        text = (
            f"recovered {self.calls} call{'s' if self.calls != 1 else ''} left in progress by "
            f"an engine that stopped unexpectedly: {parts}"
        )
        if self.hung_up:
            text += f"; {self.hung_up} still on Asterisk, hung up first"
        if self.outcomes.get(Outcome.INTERRUPTED.value):
            text += "; interrupted calls are dialled again (campaign retry-interrupted)"
        for name, n in sorted(self.not_redialled.items()):
            text += f"; {n} of campaign {name} not dialled again (campaign cancelled or deleted)"
        return text


async def recover(store: Store, hang_up: HangUpFn, *, campaign_id: int | None = None) -> Recovered:
    """Close every attempt left in flight (of one campaign, or of all): see module doc."""
    started = time.monotonic()
    calls = await store.campaigns.in_flight(campaign_id)
    done = Recovered()
    if not calls:
        return done
    # first make sure Asterisk carries none of them any more (no two live calls)
    carried = await asyncio.gather(*(_hang_up_and_wait(hang_up, c.call_id) for c in calls))
    done.hung_up = sum(carried)
    closures = [classify(c) for c in calls]
    for call, closure in zip(calls, closures, strict=True):
        if closure.commit:
            await _commit_keypad(store, call, closure.commit)
    await store.campaigns.close_in_flight([(c.call_id, c.outcome, c.note) for c in closures])
    done.calls = len(calls)
    done.outcomes.update(c.outcome.value for c in closures)
    for call in calls:
        if call.campaign is None or call.campaign_state == "cancelled":
            done.not_redialled[call.campaign or f"#{call.campaign_id}"] += 1
    done.seconds = time.monotonic() - started
    log.warning(
        "recovered calls left in flight",
        calls=done.calls,
        outcomes=dict(done.outcomes),
        hung_up=done.hung_up,
        not_redialled=dict(done.not_redialled),
    )
    return done


async def _hang_up_and_wait(hang_up: HangUpFn, call_id: str) -> bool:
    """Hang up both halves of the call's Local channel; True if Asterisk still had it."""
    carried = False
    deadline = time.monotonic() + HANGUP_WAIT_S
    while True:
        try:
            # ";1" is the call id, ";2" (Dial) is call id + "-2" (telephony/ami.py)
            found = [await hang_up(call_id), await hang_up(f"{call_id}-2")]
        except DialerError as exc:
            raise TelephonyError(
                f"could not hang up call {call_id}, left by an engine that stopped, on "
                f"Asterisk ({exc}); nothing dialled (it might still be live)"
            ) from exc
        if not any(found):
            return carried
        carried = True
        if time.monotonic() > deadline:
            raise TelephonyError(
                f"Asterisk still carries call {call_id}, left by an engine that stopped, "
                f"{HANGUP_WAIT_S:g} s after it was hung up; nothing dialled"
            )
        await asyncio.sleep(HANGUP_POLL_S)


async def _commit_keypad(store: Store, call: InFlight, digit: str) -> None:
    """A verdict durable as a digit mark only: commit it now (C10, C16)."""
    contact = await store.contacts.contact(call.contact_id)
    if digit == OPT_OUT_DIGIT:
        await store.revoke_durably(
            contact.number,
            RevocationChannel.KEYPAD,
            source_ref=call.call_id,
            recorded_by="keypad",
        )
        log.info("opt-out recorded after a restart", channel="keypad", call_id=call.call_id)
    else:
        await store.consent.suppress_wrong_party(contact.number, call.call_id)
