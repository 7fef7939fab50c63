"""The words of the call state machine: its states, events, commands and policy.

Plain frozen data, no behaviour: :mod:`dialer.campaign.callflow` holds the
rules and the table; the runner, the FastAGI route and the AMI event stream
build these events and carry out these commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialer.model.outcome import Outcome

OPT_OUT_DIGIT = "9"
WRONG_NUMBER_DIGIT = "8"
REPEAT_DIGIT = "*"
#: keys that stop a message segment (AGI STREAM FILE escape digits, C10)
ESCAPE_DIGITS = OPT_OUT_DIGIT + WRONG_NUMBER_DIGIT + REPEAT_DIGIT


class State(StrEnum):
    READY = "ready"  # gate allowed, attempt committed; nothing sent yet
    ORIGINATING = "originating"  # Originate sent; nobody answered yet
    UNANSWERED = "unanswered"  # Asterisk said nobody answered; waiting for its report
    ANSWERED = "answered"  # answered; the AGI session has not begun
    PLAYING = "playing"  # the message plays, segment by segment
    LISTENING = "listening"  # message complete; a few seconds for a last key
    VOICEMAIL = "voicemail"  # an answering machine hears the voicemail version (C11)
    REVOKING = "revoking"  # 9 heard: the revocation is being committed (C10)
    SUPPRESSING = "suppressing"  # 8 heard: the suppression is being committed (C16)
    CONFIRMING = "confirming"  # keypad verdict committed; its confirmation plays
    CLOSING = "closing"  # waiting for the line and the AGI session to end
    RECORDING = "recording"  # the outcome is being written
    DONE = "done"


class Timer(StrEnum):
    ORIGINATE = "originate"  # no OriginateResponse within ring time + grace
    REPORT = "report"  # no DialerDial report after an unanswered call
    MAX_CALL = "max-call"  # an answered call longer than engine.max_call_seconds
    SETTLE = "settle"  # the line or the AGI session did not end after the other
    #: a call that ended mid-message waits this long before it counts as heard: a
    #: stopping Asterisk hangs up every call a moment before AMI says Shutdown
    PBX_GRACE = "pbx-grace"


class Write(StrEnum):
    REVOKE = "revoke"
    SUPPRESS = "suppress"
    OUTCOME = "outcome"


class InterruptKind(StrEnum):
    SHUTDOWN = "shutdown"
    PBX = "pbx"


class Mark(StrEnum):
    """Points of a call recorded durably for crash recovery (issue 13)."""

    ORIGINATE_SENT = "originate-sent"
    ANSWERED = "answered"
    SEGMENT = "segment"
    COMPLETED = "completed"
    DIGIT = "digit"


# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class OriginateSent:
    """The runner is about to write the Originate action (nothing can be heard yet)."""


@dataclass(frozen=True)
class NotSent:
    """The Originate never reached Asterisk (not connected): nobody was called."""

    detail: str = "not sent: Asterisk unreachable"


@dataclass(frozen=True)
class OriginateResponse:
    answered: bool
    reason: int | None = None
    #: the action was refused outright (permission, unknown context): no channel exists
    refused: bool = False


@dataclass(frozen=True)
class DialReport:
    """The dialplan's ``DialerDial`` UserEvent (absent for a direct originate)."""

    status: str | None
    cause: int | None


@dataclass(frozen=True)
class AgiStarted:
    #: AMD said MACHINE: play the voicemail version (C11)
    machine: bool = False


@dataclass(frozen=True)
class AgiEnded:
    """The FastAGI session of the call ended (hung up, closed, or failed)."""


@dataclass(frozen=True)
class DigitHeard:
    digit: str
    #: "agi": the route's STREAM FILE / WAIT FOR DIGIT; "ami": a DTMFEnd event
    source: str = "agi"
    #: the Play/Listen the AGI key interrupted (None for AMI)
    play_id: int | None = None


@dataclass(frozen=True)
class PlaybackFinished:
    """A Play ended without a key, or a Listen timed out."""

    play_id: int


@dataclass(frozen=True)
class StoreDone:
    write: Write


@dataclass(frozen=True)
class StoreFailed:
    write: Write
    error: str = ""


@dataclass(frozen=True)
class Hangup:
    """The call's own channel hung up (AMI Hangup, Uniqueid = call id)."""

    cause: int | None = None


@dataclass(frozen=True)
class Timeout:
    timer: Timer


@dataclass(frozen=True)
class Interrupt:
    kind: InterruptKind


Event = (
    OriginateSent
    | NotSent
    | OriginateResponse
    | DialReport
    | AgiStarted
    | AgiEnded
    | DigitHeard
    | PlaybackFinished
    | StoreDone
    | StoreFailed
    | Hangup
    | Timeout
    | Interrupt
)
EVENT_TYPES: tuple[type[Event], ...] = (
    OriginateSent,
    NotSent,
    OriginateResponse,
    DialReport,
    AgiStarted,
    AgiEnded,
    DigitHeard,
    PlaybackFinished,
    StoreDone,
    StoreFailed,
    Hangup,
    Timeout,
    Interrupt,
)

# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class Sound:
    #: "segment", "voicemail", "optout-confirmation", "wrong-number-confirmation"
    kind: str
    index: int = 0


@dataclass(frozen=True)
class Revoke:
    """Commit the keypad revocation (C5, C10); ``attempt`` counts from 1 (backoff)."""

    attempt: int = 1


@dataclass(frozen=True)
class SuppressWrongParty:
    attempt: int = 1


@dataclass(frozen=True)
class RecordOutcome:
    outcome: Outcome
    detail: str
    note: str
    reason: int | None
    dial_status: str | None
    cause: int | None
    digits: str
    attempt: int = 1


@dataclass(frozen=True)
class HangUp:
    """Hang the call up: through the AGI session when open, else by AMI channel id."""


@dataclass(frozen=True)
class Play:
    play_id: int
    sound: Sound
    escape: str = ESCAPE_DIGITS


@dataclass(frozen=True)
class Listen:
    play_id: int
    milliseconds: int


@dataclass(frozen=True)
class RecordProgress:
    mark: Mark
    value: str = ""


@dataclass(frozen=True)
class StartTimer:
    timer: Timer
    seconds: float


Command = (
    Revoke
    | SuppressWrongParty
    | RecordOutcome
    | HangUp
    | Play
    | Listen
    | RecordProgress
    | StartTimer
)


@dataclass(frozen=True)
class CallPolicy:
    """What the machine needs to know about the call, fixed before it starts."""

    segments: int
    voicemail_segments: int = 0
    telemarketing: bool = False
    #: True: the originate goes through [dialer-outbound] (dial_via_dialplan),
    #: whose DialerDial report tells failures apart; False for a direct
    #: originate, the default (Reason + hangup cause only, telephony/dialout.py)
    dial_report: bool = True
    originate_wait: float = 45.0
    report_wait: float = 2.0
    settle_wait: float = 5.0
    pbx_grace: float = 2.0
    max_call: float = 300.0
    #: how long we keep listening for a key after the message (C10)
    listen_ms: int = 4000
    max_repeats: int = 2
    #: what each segment is (identification, opt-out instruction, body ...), for notes
    segment_kinds: tuple[str, ...] = ()
