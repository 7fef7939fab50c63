"""What happened to a call, from what Asterisk told us (pure, no I/O).

Inputs, finest first:

1. the AGI route's own verdict (``opted-out`` on keypad 9, ``wrong-number``
   on keypad 8, ``completed`` otherwise): it heard the callee, so it wins;
2. whether the answered-call AGI ran at all, and DTMF digits AMI saw on the
   call (a 9 seen by AMI but not by the route still means opted-out: C10
   accepts the key from answer to hangup, so the runner must revoke);
3. the Q.850 hangup cause of the dialled leg (``${HANGUPCAUSE}`` in our
   ``DialerDial`` UserEvent, or a Hangup event's ``Cause``);
4. ``${DIALSTATUS}`` of ``Dial()`` in ``[dialer-outbound]``;
5. the OriginateResponse ``Reason`` (coarsest).

Rules, in order (first match wins):

====================================  ===============  =========  =========
condition                             outcome          detail     retryable
====================================  ===============  =========  =========
route verdict given                   that verdict     route      no
AGI ran, AMI saw 9 / 8                opted-out /      keypad     no
                                      wrong-number
AGI ran                               completed        answered   no
cause 1, 3, 22, 28 (bad number)       failed           unallocated no (C16)
answered (ANSWER / reason 4) no AGI   failed           no-message no
BUSY / cause 17 / reason 5            busy             busy       yes
cause 21 (call rejected)              busy             rejected   yes
NOANSWER / cause 18, 19 / reason 3    no-answer        no-answer  yes
CANCEL / reason 1                     no-answer        cancelled  yes
CONGESTION / cause 34,38,41,42,44 /   failed           congestion yes
reason 8
CHANUNAVAIL / cause 20, 27            failed           unavailable yes
cause 16 (normal, before answer)      no-answer        no-answer  yes
reason 0 (request failed)             failed           request-failed no
anything else                         failed           unknown    no
====================================  ===============  =========  =========

Measured on the sandbox (Asterisk 22, Originate of ``Local/dial@dialer-outbound``):
the OriginateResponse ``Reason`` is 4 when answered and 0 for *every* failure
(busy, unallocated, congestion), because Originate only sees the Local
channel. The ``DialerDial`` status and cause are what tell failures apart;
``Reason`` is only the last resort.

Sources: Asterisk OriginateResponse reasons (``enum ast_control_frame_type``
as reported by ``__ast_request_and_dial``), ``DIALSTATUS`` values of app_dial,
and ITU-T Q.850 cause codes as listed in Asterisk's ``causes.h``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "BAD_NUMBER_CAUSES",
    "Outcome",
    "OutcomeDecision",
    "Reason",
    "classify_call",
    "parse_cause",
]


class Outcome(StrEnum):
    COMPLETED = "completed"
    OPTED_OUT = "opted-out"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    WRONG_NUMBER = "wrong-number"


class Reason:
    """OriginateResponse ``Reason`` values (DESIGN.md "AMI and AGI facts")."""

    REQUEST_FAILED = 0
    HUNG_UP_BEFORE_ANSWER = 1
    NO_ANSWER = 3
    ANSWERED = 4
    BUSY = 5
    CONGESTION = 8


#: unallocated (1), no route to destination (3), number changed (22),
#: invalid number format (28): the number itself is wrong; retrying cannot
#: help and a repeat flags the contact for review (C16)
BAD_NUMBER_CAUSES = frozenset({1, 3, 22, 28})
_BUSY_CAUSES = frozenset({17})
_REJECTED_CAUSES = frozenset({21})
_NO_ANSWER_CAUSES = frozenset({18, 19})
_CONGESTION_CAUSES = frozenset({34, 38, 41, 42, 44})
_UNAVAILABLE_CAUSES = frozenset({20, 27})
_NORMAL_CLEARING = 16

_ROUTE_VERDICTS = frozenset({Outcome.COMPLETED, Outcome.OPTED_OUT, Outcome.WRONG_NUMBER})


@dataclass(frozen=True)
class OutcomeDecision:
    outcome: Outcome
    #: the finer reason, for reports: busy, rejected, congestion, unallocated ...
    detail: str
    #: whether the retry policy may dial this number again for this campaign
    retryable: bool


def parse_cause(value: str | int | None) -> int | None:
    """A Q.850 cause from an AMI header or ``${HANGUPCAUSE}``; None if empty/odd."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = value.strip()
    return int(text) if text.isdigit() else None


def classify_call(
    *,
    reason: int | None = None,
    dial_status: str | None = None,
    cause: int | None = None,
    agi_ran: bool = False,
    digits: str = "",
    route_outcome: Outcome | str | None = None,
) -> OutcomeDecision:
    """Map what Asterisk reported about one attempt to an outcome (see table above)."""
    if route_outcome is not None:
        verdict = Outcome(route_outcome)
        if verdict not in _ROUTE_VERDICTS:
            raise ValueError(f"an AGI route cannot decide {verdict.value!r}")
        return OutcomeDecision(verdict, "route", retryable=False)

    status = (dial_status or "").strip().upper()
    if agi_ran:
        # C10: a 9 is honoured whenever it was pressed between answer and hangup
        if "9" in digits:
            return OutcomeDecision(Outcome.OPTED_OUT, "keypad", retryable=False)
        if "8" in digits:
            return OutcomeDecision(Outcome.WRONG_NUMBER, "keypad", retryable=False)
        return OutcomeDecision(Outcome.COMPLETED, "answered", retryable=False)

    if cause in BAD_NUMBER_CAUSES:
        return OutcomeDecision(Outcome.FAILED, "unallocated", retryable=False)
    if status == "ANSWER" or reason == Reason.ANSWERED:
        # answered, but our message never started (FastAGI down, instant hang-up):
        # retrying would ring people again without ever delivering anything
        return OutcomeDecision(Outcome.FAILED, "no-message", retryable=False)
    if status == "BUSY" or cause in _BUSY_CAUSES:
        return OutcomeDecision(Outcome.BUSY, "busy", retryable=True)
    if cause in _REJECTED_CAUSES:
        return OutcomeDecision(Outcome.BUSY, "rejected", retryable=True)
    if status == "NOANSWER" or cause in _NO_ANSWER_CAUSES:
        return OutcomeDecision(Outcome.NO_ANSWER, "no-answer", retryable=True)
    if status == "CANCEL":
        return OutcomeDecision(Outcome.NO_ANSWER, "cancelled", retryable=True)
    if status == "CONGESTION" or cause in _CONGESTION_CAUSES:
        return OutcomeDecision(Outcome.FAILED, "congestion", retryable=True)
    if status == "CHANUNAVAIL" or cause in _UNAVAILABLE_CAUSES:
        return OutcomeDecision(Outcome.FAILED, "unavailable", retryable=True)
    # only the coarse OriginateResponse reason is left
    if reason == Reason.BUSY:
        return OutcomeDecision(Outcome.BUSY, "busy", retryable=True)
    if reason == Reason.NO_ANSWER:
        return OutcomeDecision(Outcome.NO_ANSWER, "no-answer", retryable=True)
    if reason == Reason.HUNG_UP_BEFORE_ANSWER:
        return OutcomeDecision(Outcome.NO_ANSWER, "cancelled", retryable=True)
    if reason == Reason.CONGESTION:
        return OutcomeDecision(Outcome.FAILED, "congestion", retryable=True)
    if cause == _NORMAL_CLEARING:
        return OutcomeDecision(Outcome.NO_ANSWER, "no-answer", retryable=True)
    if reason == Reason.REQUEST_FAILED:
        return OutcomeDecision(Outcome.FAILED, "request-failed", retryable=False)
    return OutcomeDecision(Outcome.FAILED, "unknown", retryable=False)
