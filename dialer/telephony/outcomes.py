"""What Asterisk said about a dial that reached no message (pure, no I/O).

This module knows Asterisk's vocabulary only: OriginateResponse ``Reason``
codes, ``${DIALSTATUS}`` values of app_dial and ITU-T Q.850 hangup causes. It
turns them into one :class:`DialResult`. What that result *means* for the
campaign (which ``Outcome``, whether it is retried) is decided in one place,
the call state machine (:mod:`dialer.campaign.callflow`); keypad digits never
reach this module (a 9 or an 8 is judged there too).

Inputs, finest first:

1. the Q.850 hangup cause of the dialled leg (``${HANGUPCAUSE}`` in our
   ``DialerDial`` UserEvent, or the Hangup event's ``Cause`` of the call's
   own channel when the callee is originated directly, with no dial report);
2. ``${DIALSTATUS}`` of ``Dial()`` in ``[dialer-outbound]``;
3. the OriginateResponse ``Reason`` (coarsest).

Rules, in order (first match wins):

========================================  ==============
condition                                 result
========================================  ==============
cause 1, 3, 22, 28 (bad number)           unallocated
ANSWER / reason 4 (answered, no message)  answered
BUSY / cause 17 / reason 5 (late)         busy
cause 21 (call rejected)                  rejected
NOANSWER / cause 18, 19                   no-answer
CANCEL                                    cancelled
CONGESTION / cause 34, 38, 41, 42, 44     congestion
CHANUNAVAIL / cause 20, 27                unavailable
reason 5                                  busy
reason 3                                  no-answer
reason 1                                  cancelled
reason 8                                  congestion
cause 16 (normal, before answer)          no-answer
reason 0 (request failed)                 request-failed
anything else                             unknown
========================================  ==============

Measured on the sandbox (Asterisk 22, Originate of ``Local/dial@dialer-outbound``):
the OriginateResponse ``Reason`` is 4 when answered and 0 for *every* failure
(busy, unallocated, congestion), because Originate only sees the Local
channel. The ``DialerDial`` status and cause are what tell failures apart;
``Reason`` is only the last resort. Originating the callee directly
(DESIGN.md): busy is Reason 5, ring timeout Reason 3 + cause 19, unallocated
Reason 0 + cause 1, congestion Reason 0 + cause 34, SIP 603 Reason 0 + cause 21.

Sources: Asterisk OriginateResponse reasons (``enum ast_control_frame_type``
as reported by ``__ast_request_and_dial``), ``DIALSTATUS`` values of app_dial,
and ITU-T Q.850 cause codes as listed in Asterisk's ``causes.h``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "BAD_NUMBER_CAUSES",
    "DialResult",
    "Reason",
    "classify_dial",
    "implied_cause",
    "parse_cause",
]


class DialResult(StrEnum):
    """Why no message was played, in Asterisk's terms (see the table above)."""

    UNALLOCATED = "unallocated"
    ANSWERED = "answered"
    BUSY = "busy"
    REJECTED = "rejected"
    NO_ANSWER = "no-answer"
    CANCELLED = "cancelled"
    CONGESTION = "congestion"
    UNAVAILABLE = "unavailable"
    REQUEST_FAILED = "request-failed"
    UNKNOWN = "unknown"


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


def parse_cause(value: str | int | None) -> int | None:
    """A Q.850 cause from an AMI header or ``${HANGUPCAUSE}``; None if empty/odd."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = value.strip()
    return int(text) if text.isdigit() else None


def classify_dial(
    *, reason: int | None = None, dial_status: str | None = None, cause: int | None = None
) -> DialResult:
    """Map what Asterisk reported about a dial to one result (see table above)."""
    status = (dial_status or "").strip().upper()
    if cause in BAD_NUMBER_CAUSES:
        return DialResult.UNALLOCATED
    if status == "ANSWER" or reason == Reason.ANSWERED:
        return DialResult.ANSWERED
    if status == "BUSY" or cause in _BUSY_CAUSES:
        return DialResult.BUSY
    if cause in _REJECTED_CAUSES:
        return DialResult.REJECTED
    if status == "NOANSWER" or cause in _NO_ANSWER_CAUSES:
        return DialResult.NO_ANSWER
    if status == "CANCEL":
        return DialResult.CANCELLED
    if status == "CONGESTION" or cause in _CONGESTION_CAUSES:
        return DialResult.CONGESTION
    if status == "CHANUNAVAIL" or cause in _UNAVAILABLE_CAUSES:
        return DialResult.UNAVAILABLE
    # only the coarse OriginateResponse reason is left
    if reason == Reason.BUSY:
        return DialResult.BUSY
    if reason == Reason.NO_ANSWER:
        return DialResult.NO_ANSWER
    if reason == Reason.HUNG_UP_BEFORE_ANSWER:
        return DialResult.CANCELLED
    if reason == Reason.CONGESTION:
        return DialResult.CONGESTION
    if cause == _NORMAL_CLEARING:
        return DialResult.NO_ANSWER
    if reason == Reason.REQUEST_FAILED:
        return DialResult.REQUEST_FAILED
    return DialResult.UNKNOWN


#: the Q.850 cause a result stands for when Asterisk sent none (a ring timeout
#: leaves ``${HANGUPCAUSE}`` at 0): what [dialer-report] in extensions.conf
#: derives from ``${DIALSTATUS}``, so reports read the same however the call
#: was originated
_IMPLIED_CAUSES = {DialResult.BUSY: 17, DialResult.NO_ANSWER: 19, DialResult.CONGESTION: 34}


def implied_cause(result: DialResult, cause: int | None) -> int | None:
    """``cause`` if Asterisk gave one, else the cause ``result`` stands for (or None)."""
    if cause:
        return cause
    return _IMPLIED_CAUSES.get(result)
