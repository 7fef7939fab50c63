"""What happened to one attempt, and where it is in its life (no I/O)."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What happened to one attempt; persisted per attempt and per contact."""

    COMPLETED = "completed"
    OPTED_OUT = "opted-out"
    WRONG_NUMBER = "wrong-number"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    BLOCKED = "blocked"
    #: the engine stopped (crash, Ctrl-C) while the call was up: never redialled
    INTERRUPTED = "interrupted"
    #: the gate allowed it but the originate was never sent (Asterisk gone):
    #: nobody was called, so the contact is gated and dialled again next time
    NOT_PLACED = "not-placed"


class AttemptState(StrEnum):
    """Call lifecycle: gated → dialing → answered → done (or blocked)."""

    BLOCKED = "blocked"
    DIALING = "dialing"
    ANSWERED = "answered"
    DONE = "done"
