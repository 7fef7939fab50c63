"""What happened to one attempt, and where it is in its life (no I/O)."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What happened to one attempt; persisted per attempt and per contact.

    The one outcome vocabulary of the dialer: the call state machine
    (``dialer.campaign.callflow``) decides it, the scheduler and the reports
    read it.
    """

    COMPLETED = "completed"
    OPTED_OUT = "opted-out"
    WRONG_NUMBER = "wrong-number"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    BLOCKED = "blocked"
    #: the engine died (crash, kill -9) after the answer, before the whole message and
    #: with no 9/8; closed at the next start (campaign/recovery.py) and dialled again
    #: like ``interrupted-by-shutdown``
    INTERRUPTED = "interrupted"
    #: the engine was stopped (SIGTERM/SIGINT) and hung up a call still in progress
    #: after the drain period: retried once unless the callee heard the whole
    #: message or pressed 9/8 (those calls end completed / opted-out / wrong-number)
    INTERRUPTED_BY_SHUTDOWN = "interrupted-by-shutdown"
    #: Asterisk went away (AMI lost) while the call was in progress: retried like
    #: ``interrupted-by-shutdown``
    INTERRUPTED_BY_PBX = "interrupted-by-pbx"
    #: the gate allowed it but the originate was never sent (Asterisk gone):
    #: nobody was called, so the contact is gated and dialled again next time
    NOT_PLACED = "not-placed"


#: outcomes of a call the engine cut short: retried (once, by default) unless the
#: callee had already heard the whole message or pressed 9/8
INTERRUPTED_OUTCOMES = frozenset(
    {Outcome.INTERRUPTED, Outcome.INTERRUPTED_BY_SHUTDOWN, Outcome.INTERRUPTED_BY_PBX}
)


class AttemptState(StrEnum):
    """Call lifecycle: gated → dialing → answered → done (or blocked)."""

    BLOCKED = "blocked"
    DIALING = "dialing"
    ANSWERED = "answered"
    DONE = "done"
