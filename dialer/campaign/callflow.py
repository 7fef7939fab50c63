"""The call's life as one pure state machine (h11 style): a table, no I/O.

The runner, the FastAGI ``broadcast`` route and the AMI event stream feed a
:class:`CallFlow` *events*; it answers with *commands* for them to carry out.
It does no I/O, reads no clock and holds no reference to anything async, so
every order of events can be tested exhaustively (tests/unit/test_callflow*).

Rules (the C-numbers are COMPLIANCE.md's):

1. A 9 heard between answer and hangup, by the AGI route *or* by AMI
   (``DTMFEnd``), is an opt-out (C10). The machine commands ``Revoke`` at once,
   commands it again after every failed store write (never dropped), and
   records ``opted-out`` only after the store confirmed it. A 9 beats an 8,
   before or after it.
2. An 8 is "wrong person" (C16): ``SuppressWrongParty``, retried the same
   way, then ``wrong-number``. This module is the one place that decides what
   a 9 or an 8 means.
3. Nobody is released before the keypad verdict is committed (C10): while a
   revocation or suppression is being written the machine never commands
   ``HangUp``; it plays the confirmation afterwards, only while the line and
   the AGI session are up, and never for telemarketing (the call ends at once).
4. Other keys steer the message (``*`` repeats it) only when the AGI route
   heard them: AMI reports every key the route heard too, so counting both
   would act twice on one press.
5. The outcome is recorded exactly once, when nothing more can be heard: the
   call's channel has hung up (AMI ``Hangup``; AMI delivers a channel's
   ``DTMFEnd`` events before its ``Hangup``), the AGI session has ended (or
   never began) and no keypad write is pending. A failed outcome write is
   repeated.
6. Nobody answered: the outcome comes from what Asterisk said
   (:func:`dialer.telephony.outcomes.classify_dial`), once the dialplan's
   ``DialerDial`` report arrived; without a report (a direct originate has
   none) the OriginateResponse ``Reason`` and the channel's hangup cause are
   used; the wait for either is bounded by a timer.
7. Time is the shell's: the machine asks for timers (``StartTimer``) and the
   shell feeds ``Timeout`` back. A timeout that no longer applies is ignored.
8. The engine stopping (``Interrupt(shutdown)``, after the drain period) or
   Asterisk going away (``Interrupt(pbx)``) hangs up what is left and records
   ``interrupted-by-shutdown`` / ``interrupted-by-pbx``, retried at the next
   start, unless the callee heard the whole message (``completed``) or pressed
   9/8 (their verdict is still committed first). A call that ended in the
   middle of the message is recorded ``pbx_grace`` seconds later: a stopping
   Asterisk hangs up every call a moment before AMI says Shutdown, and such a
   call was cut by the PBX, not by the callee.

The table (``TRANSITIONS``) is the documentation: every (state, event) pair
has one row naming the states it may lead to; a test checks the machine never
leaves that set and that no pair is missing. ``·`` means "unchanged".

=============  =====================  ========================================
state          event                  next state / commands
=============  =====================  ========================================
ready          OriginateSent          originating; timer(originate), progress
ready          NotSent, Interrupt     recording; RecordOutcome(not-placed)
originating    OriginateResponse      answered (timer max-call) | unanswered
                                      (timer report) | recording (refused)
originating    AgiStarted             playing / voicemail; Play, progress
any live       DigitHeard 9           revoking; progress, Revoke
any live       DigitHeard 8           suppressing; progress, SuppressWrongParty
playing        PlaybackFinished       playing; Play next | listening; Listen
playing        DigitHeard * (agi)     playing; Play from the start (twice)
listening      PlaybackFinished/key   closing; HangUp
voicemail      PlaybackFinished       voicemail; Play next | closing; HangUp
revoking       StoreDone(revoke)      confirming; Play | closing; HangUp
revoking       StoreFailed(revoke)    ·; Revoke again
confirming     PlaybackFinished       closing; HangUp
any answered   Hangup (AMI)           closing (line ended) | recording
any answered   AgiEnded               closing (waiting for the AMI hangup)
closing        Hangup + AgiEnded      recording; RecordOutcome
unanswered     DialReport / Timeout   recording; RecordOutcome
any answered   Timeout(max-call)      closing; HangUp (after any keypad write)
any            Interrupt              closing; HangUp | recording
recording      StoreDone(outcome)     done
recording      StoreFailed(outcome)   ·; RecordOutcome again
=============  =====================  ========================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dialer.campaign.callevents import (
    ESCAPE_DIGITS,
    EVENT_TYPES,
    OPT_OUT_DIGIT,
    REPEAT_DIGIT,
    WRONG_NUMBER_DIGIT,
    AgiEnded,
    AgiStarted,
    CallPolicy,
    Command,
    DialReport,
    DigitHeard,
    Event,
    HangUp,
    Hangup,
    Interrupt,
    InterruptKind,
    Listen,
    Mark,
    NotSent,
    OriginateResponse,
    OriginateSent,
    Play,
    PlaybackFinished,
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
    Timer,
    Write,
)
from dialer.model.outcome import Outcome
from dialer.telephony.outcomes import DialResult, classify_dial, implied_cause

__all__ = ["TRANSITIONS", "CallFlow"]

# ------------------------------------------------------------------ machine

_S = State
#: states in which a key can still be heard on the line (rule 1)
_LIVE = frozenset(
    {
        _S.ORIGINATING,
        _S.UNANSWERED,
        _S.ANSWERED,
        _S.PLAYING,
        _S.LISTENING,
        _S.VOICEMAIL,
        _S.SUPPRESSING,
        _S.CONFIRMING,
        _S.CLOSING,
    }
)
#: states of an answered call that the AGI session drives
_ON_AIR = frozenset({_S.PLAYING, _S.LISTENING, _S.VOICEMAIL, _S.CONFIRMING})
_ANSWERED_STATES = _ON_AIR | {_S.ANSWERED, _S.REVOKING, _S.SUPPRESSING, _S.CLOSING}
_FINAL = frozenset({_S.RECORDING, _S.DONE})
_KEYPAD_WRITES = frozenset({Write.REVOKE, Write.SUPPRESS})


@dataclass
class CallFlow:
    """One call. ``handle(event)`` → commands; ``state`` and the facts are readable."""

    policy: CallPolicy
    state: State = State.READY
    answered: bool = False
    line_ended: bool = False
    agi_open: bool = False
    agi_seen: bool = False
    reason: int | None = None
    dial_status: str | None = None
    cause: int | None = None
    dial_reported: bool = False
    refused: bool = False
    #: Asterisk said nobody answered (OriginateResponse failure)
    unanswered: bool = False
    report_timed_out: bool = False
    digits: str = ""
    #: "9" or "8" once heard; "9" replaces "8" (rule 1)
    verdict: str | None = None
    committed: set[Write] = field(default_factory=set)
    pending: set[Write] = field(default_factory=set)
    tries: dict[Write, int] = field(default_factory=dict)
    message_completed: bool = False
    segment: int = 0
    repeats: int = 0
    play_id: int = 0
    hangup_sent: bool = False
    #: a hang-up wanted while a keypad write was pending (rule 3)
    hangup_wanted: bool = False
    interrupted: InterruptKind | None = None
    not_sent: str | None = None
    max_call_started: bool = False
    #: rule 8: a call that ended mid-message is recorded only after pbx_grace
    grace: str = ""  # "", "started", "over"
    outcome: RecordOutcome | None = None
    notes: list[str] = field(default_factory=list)

    # -- the one entry point -------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        """Feed one event; returns the commands to carry out, in order."""
        handler = TRANSITIONS[(self.state, type(event))][0]
        out: list[Command] = []
        handler(self, event, out)
        self._settle(out)
        return out

    @property
    def finished(self) -> bool:
        return self.state is State.DONE

    # -- helpers -------------------------------------------------------------

    def _play(self, out: list[Command], sound: Sound, escape: str = ESCAPE_DIGITS) -> None:
        self.play_id += 1
        out.append(Play(self.play_id, sound, escape))

    def _hang_up(self, out: list[Command]) -> None:
        if self.pending & _KEYPAD_WRITES:
            self.hangup_wanted = True  # rule 3: after the commit
            return
        if not self.hangup_sent and not self.line_ended:
            self.hangup_sent = True
            out.append(HangUp())
            out.append(StartTimer(Timer.SETTLE, self.policy.settle_wait))

    def _answer(self, out: list[Command]) -> None:
        self.answered = True
        if not self.max_call_started:
            self.max_call_started = True
            out.append(StartTimer(Timer.MAX_CALL, self.policy.max_call))

    def _close(self, out: list[Command]) -> None:
        self.state = _S.CLOSING
        out.append(StartTimer(Timer.SETTLE, self.policy.settle_wait))

    def _start_write(self, write: Write, out: list[Command]) -> None:
        self.pending.add(write)
        self.tries[write] = self.tries.get(write, 0) + 1
        if write is Write.REVOKE:
            out.append(Revoke(self.tries[write]))
        elif write is Write.SUPPRESS:
            out.append(SuppressWrongParty(self.tries[write]))
        else:
            assert self.outcome is not None
            out.append(_with_attempt(self.outcome, self.tries[write]))

    def _settle(self, out: list[Command]) -> None:
        """Rule 5/6: record the outcome once nothing more can be heard."""
        if self.state in _FINAL or self.state is _S.READY:
            return
        if self.pending & _KEYPAD_WRITES:
            return
        if self.state is _S.ORIGINATING:
            return  # only an OriginateResponse, a timeout or NotSent move it on
        if self.state is _S.UNANSWERED:
            if not (
                self.refused
                or self.dial_reported
                or self.report_timed_out
                or self.interrupted
                or (not self.policy.dial_report and self.line_ended)
            ):
                return
        elif not (self.line_ended and not self.agi_open):
            return
        elif self._ended_mid_message() and self.grace != "over":
            # rule 8: was it the callee, or Asterisk going down? Asterisk hangs up
            # every call before AMI says Shutdown (asterisk.c, really_quit)
            if not self.grace:
                self.grace = "started"
                out.append(StartTimer(Timer.PBX_GRACE, self.policy.pbx_grace))
            return
        self.outcome = self._decide()
        self.state = _S.RECORDING
        self._start_write(Write.OUTCOME, out)

    def _ended_mid_message(self) -> bool:
        return (
            self.agi_seen
            and not self.message_completed
            and not self.committed & _KEYPAD_WRITES
            and self.interrupted is None
            and self.not_sent is None
            and not self.hangup_sent  # we ended it ourselves (max_call_seconds)
        )

    def _decide(self) -> RecordOutcome:
        """The outcome from the facts (rules 1, 2, 6, 8)."""
        note = "; ".join(self.notes)
        if self.not_sent is not None:
            outcome, detail = Outcome.NOT_PLACED, self.not_sent
        elif Write.REVOKE in self.committed:
            outcome, detail = Outcome.OPTED_OUT, "keypad"
        elif Write.SUPPRESS in self.committed:
            outcome, detail = Outcome.WRONG_NUMBER, "keypad"
        elif self.message_completed:
            outcome, detail = Outcome.COMPLETED, "answered"
        elif self.unanswered and not self.answered:
            outcome, detail = self._dial_outcome()
        elif self.interrupted is InterruptKind.SHUTDOWN:
            outcome, detail = Outcome.INTERRUPTED_BY_SHUTDOWN, "engine stopped"
        elif self.interrupted is InterruptKind.PBX:
            outcome, detail = Outcome.INTERRUPTED_BY_PBX, "Asterisk went away"
        elif self.agi_seen:
            outcome, detail = Outcome.COMPLETED, "hung up during the message"
        elif self.answered:
            # answered, but the message never started (FastAGI down, instant hang-up):
            # retrying would ring people again without ever delivering anything
            outcome, detail = Outcome.FAILED, "no-message"
        else:
            outcome, detail = self._dial_outcome()
        cause = self.cause
        if outcome is not Outcome.NOT_PLACED and not self.answered and not self.agi_seen:
            # a ring timeout sends no cause: the one the result stands for, as the
            # dialplan's report gives it (the same report, direct or through the hop)
            cause = implied_cause(self._dial_result(), cause)
        return RecordOutcome(
            outcome=outcome,
            detail=detail,
            note=note,
            reason=self.reason,
            dial_status=self.dial_status,
            cause=cause,
            digits=self.digits,
        )

    def _dial_result(self) -> DialResult:
        return classify_dial(reason=self.reason, dial_status=self.dial_status, cause=self.cause)

    def _dial_outcome(self) -> tuple[Outcome, str]:
        result = self._dial_result()
        if result is DialResult.ANSWERED:
            return Outcome.FAILED, "no-message"
        return _DIAL_OUTCOMES[result], result.value


def _with_attempt(record: RecordOutcome, attempt: int) -> RecordOutcome:
    return RecordOutcome(
        record.outcome,
        record.detail,
        record.note,
        record.reason,
        record.dial_status,
        record.cause,
        record.digits,
        attempt,
    )


#: rule 6: what an unanswered dial means for the campaign (the scheduler retries
#: busy / no-answer / failed, except an unallocated number, C16)
_DIAL_OUTCOMES: dict[DialResult, Outcome] = {
    DialResult.UNALLOCATED: Outcome.FAILED,
    DialResult.ANSWERED: Outcome.FAILED,
    DialResult.BUSY: Outcome.BUSY,
    DialResult.REJECTED: Outcome.BUSY,
    DialResult.NO_ANSWER: Outcome.NO_ANSWER,
    DialResult.CANCELLED: Outcome.NO_ANSWER,
    DialResult.CONGESTION: Outcome.FAILED,
    DialResult.UNAVAILABLE: Outcome.FAILED,
    DialResult.REQUEST_FAILED: Outcome.FAILED,
    DialResult.UNKNOWN: Outcome.FAILED,
}


# --------------------------------------------------------------- handlers
# Each handler: (machine, event, out) -> None; it may change the state and
# append commands. ``_settle`` runs after every one of them.

Handler = Callable[[CallFlow, "Event", list[Command]], None]


def _ignore(m: CallFlow, e: Event, out: list[Command]) -> None:
    """Nothing to do: the event no longer matters in this state."""


def _originate_sent(m: CallFlow, e: Event, out: list[Command]) -> None:
    m.state = _S.ORIGINATING
    out.append(StartTimer(Timer.ORIGINATE, m.policy.originate_wait))
    out.append(RecordProgress(Mark.ORIGINATE_SENT))


def _not_sent(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, NotSent)
    m.not_sent = e.detail
    m.outcome = m._decide()
    m.state = _S.RECORDING
    m._start_write(Write.OUTCOME, out)


def _interrupt_before_dial(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, Interrupt)
    why = "engine stopped" if e.kind is InterruptKind.SHUTDOWN else "Asterisk went away"
    _not_sent(m, NotSent(f"not sent: {why}"), out)


def _originate_response(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, OriginateResponse)
    if e.reason is not None:
        m.reason = e.reason
    if m.state is not _S.ORIGINATING:
        return  # the AGI session (or a key) told us about the answer first
    if e.answered:
        m.state = _S.ANSWERED
        m._answer(out)
    elif e.refused:
        m.refused = m.unanswered = True
        m.line_ended = True
        m.state = _S.UNANSWERED
    else:
        m.unanswered = True
        m.state = _S.UNANSWERED
        # wait (bounded) for the dial report, or without one for the hangup cause
        waiting = not m.dial_reported if m.policy.dial_report else not m.line_ended
        if waiting:
            out.append(StartTimer(Timer.REPORT, m.policy.report_wait))


def _dial_report(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, DialReport)
    m.dial_reported = True
    m.dial_status = e.status or m.dial_status
    if e.cause:
        m.cause = e.cause


def _agi_started(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, AgiStarted)
    m.agi_open = True
    m.agi_seen = True
    m._answer(out)
    out.append(RecordProgress(Mark.ANSWERED))
    if e.machine and m.policy.voicemail_segments:
        m.notes.append("answering machine: voicemail version left")
        m.state = _S.VOICEMAIL
        m.segment = 0
        m._play(out, Sound("voicemail", 0), escape="")
    else:
        m.state = _S.PLAYING
        m.segment = 0
        m._play(out, Sound("segment", 0))


def _agi_joined(m: CallFlow, e: Event, out: list[Command]) -> None:
    """A key (seen by AMI) came before the AGI session: it waits for the commit (rule 3)."""
    m.agi_open = True
    m.agi_seen = True
    out.append(RecordProgress(Mark.ANSWERED))


def _agi_ended(m: CallFlow, e: Event, out: list[Command]) -> None:
    was_open = m.agi_open
    m.agi_open = False
    if not was_open:
        return
    if m.state in _ON_AIR:
        if m.state is _S.PLAYING and not m.line_ended:
            m.notes.append("the AGI session ended during the message")
        m._close(out)


def _digit(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, DigitHeard)
    if e.digit == OPT_OUT_DIGIT:
        _keypad_verdict(m, OPT_OUT_DIGIT, Write.REVOKE, _S.REVOKING, out)
    elif e.digit == WRONG_NUMBER_DIGIT:
        if m.verdict is None:
            _keypad_verdict(m, WRONG_NUMBER_DIGIT, Write.SUPPRESS, _S.SUPPRESSING, out)
    elif e.source == "agi" and e.play_id == m.play_id:
        m.digits += e.digit
        _steer(m, e.digit, out)


def _keypad_verdict(
    m: CallFlow, digit: str, write: Write, state: State, out: list[Command]
) -> None:
    """Rules 1-3: commit the verdict before anything else happens on the call."""
    if m.state is _S.ORIGINATING or m.state is _S.UNANSWERED:
        m._answer(out)  # a key means somebody answered
    m.answered = True
    m.digits += digit
    m.verdict = digit
    if m.state in _ON_AIR and m.state is not _S.CONFIRMING and not m.message_completed:
        m.notes.append(f"{digit} pressed during {_where(m)}")
    m.state = state
    out.append(RecordProgress(Mark.DIGIT, digit))
    m._start_write(write, out)


def _where(m: CallFlow) -> str:
    if m.state is _S.VOICEMAIL:
        return "the voicemail version"
    kinds = m.policy.segment_kinds
    return kinds[m.segment] if m.segment < len(kinds) else f"segment {m.segment + 1}"


def _steer(m: CallFlow, digit: str, out: list[Command]) -> None:
    """Rule 4: a key the route heard that is not a verdict."""
    if m.state is _S.PLAYING:
        if digit == REPEAT_DIGIT and m.repeats < m.policy.max_repeats:
            m.repeats += 1
            m.segment = 0
            m._play(out, Sound("segment", 0))
        else:
            _next_segment(m, out)
    elif m.state in (_S.LISTENING, _S.VOICEMAIL, _S.CONFIRMING):
        _playback_finished(m, PlaybackFinished(m.play_id), out)


def _next_segment(m: CallFlow, out: list[Command]) -> None:
    if m.segment + 1 < m.policy.segments:
        m.segment += 1
        out.append(RecordProgress(Mark.SEGMENT, str(m.segment)))
        m._play(out, Sound("segment", m.segment))
    else:
        m.message_completed = True
        out.append(RecordProgress(Mark.COMPLETED))
        m.state = _S.LISTENING
        m.play_id += 1
        out.append(Listen(m.play_id, m.policy.listen_ms))


def _playback_finished(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, PlaybackFinished)
    if e.play_id != m.play_id:
        return  # a Play that ended after the call moved on (rule 3)
    if m.state is _S.PLAYING:
        _next_segment(m, out)
    elif m.state is _S.VOICEMAIL:
        if m.segment + 1 < m.policy.voicemail_segments:
            m.segment += 1
            m._play(out, Sound("voicemail", m.segment), escape="")
        else:
            m.message_completed = True
            out.append(RecordProgress(Mark.COMPLETED))
            m._hang_up(out)
            m.state = _S.CLOSING
    elif m.state in (_S.LISTENING, _S.CONFIRMING):
        m._hang_up(out)
        m.state = _S.CLOSING


def _store_done(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, StoreDone)
    if e.write not in m.pending:
        return
    m.pending.discard(e.write)
    m.committed.add(e.write)
    if e.write is Write.OUTCOME:
        m.state = _S.DONE
        return
    if m.state not in (_S.REVOKING, _S.SUPPRESSING) or m.pending & _KEYPAD_WRITES:
        return
    if m.verdict == OPT_OUT_DIGIT:
        # C10: committed; now (and only now) a confirmation, never for telemarketing
        _after_verdict(m, Sound("optout-confirmation"), confirm=not m.policy.telemarketing, out=out)
    else:
        _after_verdict(m, Sound("wrong-number-confirmation"), confirm=True, out=out)


def _after_verdict(m: CallFlow, sound: Sound, *, confirm: bool, out: list[Command]) -> None:
    can_play = m.agi_open and not m.line_ended and not m.hangup_sent
    if confirm and can_play and not m.hangup_wanted:
        m.state = _S.CONFIRMING
        m._play(out, sound, escape="")
        return
    m.state = _S.CLOSING
    if m.agi_open or not m.line_ended:
        m._hang_up(out)
        if not m.hangup_sent:  # line already gone: wait for the AGI session to end
            out.append(StartTimer(Timer.SETTLE, m.policy.settle_wait))


def _store_failed(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, StoreFailed)
    if e.write not in m.pending:
        return
    m.pending.discard(e.write)
    m._start_write(e.write, out)  # rule 1/5: again, until the store confirms


def _hangup(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, Hangup)
    m.line_ended = True
    if e.cause and not (m.dial_reported and m.cause):
        m.cause = e.cause  # the dialplan's report, when there is one, is finer
    if m.state is _S.ANSWERED:
        m.state = _S.CLOSING  # the channel is gone: no AGI session can start any more
    elif m.state in _ON_AIR:
        if m.state is _S.PLAYING:
            m.notes.append("callee hung up during the message")
        m._close(out)
    elif m.state is _S.CLOSING and m.agi_open:
        out.append(StartTimer(Timer.SETTLE, m.policy.settle_wait))


def _timeout(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, Timeout)
    timer = e.timer
    if timer is Timer.ORIGINATE and m.state is _S.ORIGINATING:
        m.notes.append("no OriginateResponse in time")
        m.state = _S.CLOSING
        m._hang_up(out)
    elif timer is Timer.REPORT and m.state is _S.UNANSWERED:
        m.report_timed_out = True
    elif timer is Timer.MAX_CALL and m.state in _ANSWERED_STATES and m.state is not _S.CLOSING:
        m.notes.append("call exceeded max_call_seconds")
        m._hang_up(out)
        if m.state in _ON_AIR or m.state is _S.ANSWERED:
            m.state = _S.CLOSING
    elif timer is Timer.PBX_GRACE and m.state is _S.CLOSING:
        m.grace = "over"
    elif timer is Timer.SETTLE and m.state is _S.CLOSING:
        if not m.line_ended or m.agi_open:
            m.notes.append("gave up waiting for the call to end")
        if not m.line_ended and not m.hangup_sent:
            m.hangup_sent = True
            out.append(HangUp())
        m.line_ended = True
        m.agi_open = False


def _interrupt(m: CallFlow, e: Event, out: list[Command]) -> None:
    assert isinstance(e, Interrupt)
    if m.interrupted is None:
        m.interrupted = e.kind
        m.notes.append(
            "engine stopped during the call"
            if e.kind is InterruptKind.SHUTDOWN
            else "Asterisk went away during the call"
        )
    if e.kind is InterruptKind.PBX:
        # the channel died with Asterisk (or cannot be watched any more)
        if m.state in (_S.REVOKING, _S.SUPPRESSING):
            m.hangup_wanted = True
        elif m.agi_open:
            m._hang_up(out)
        m.line_ended = True
    else:
        m._hang_up(out)
    if m.state not in (_S.REVOKING, _S.SUPPRESSING):
        m.state = _S.CLOSING
    if m.agi_open or not m.line_ended:
        out.append(StartTimer(Timer.SETTLE, m.policy.settle_wait))


# -------------------------------------------------------------------- table


def _row(handler: Handler, *targets: State) -> tuple[Handler, frozenset[State]]:
    return handler, frozenset(targets)


def _build() -> dict[tuple[State, type[Event]], tuple[Handler, frozenset[State]]]:
    t: dict[tuple[State, type[Event]], tuple[Handler, frozenset[State]]] = {}
    rec, closing = _S.RECORDING, _S.CLOSING
    for state in State:
        same = state
        for kind in EVENT_TYPES:
            t[(state, kind)] = _row(_ignore, same)
        if state is _S.RECORDING:
            t[(state, StoreDone)] = _row(_store_done, same, _S.DONE)
            t[(state, StoreFailed)] = _row(_store_failed, same)
        if state in _FINAL:
            continue
        # rows shared by every state from originating to closing
        if state is not _S.READY:
            t[(state, DialReport)] = _row(_dial_report, same, rec)
            t[(state, StoreDone)] = _row(_store_done, same, _S.CONFIRMING, closing, rec)
            t[(state, StoreFailed)] = _row(_store_failed, same)
            t[(state, Hangup)] = _row(_hangup, same, closing, rec)
            t[(state, AgiEnded)] = _row(_agi_ended, same, closing, rec)
            t[(state, Timeout)] = _row(_timeout, same, closing, rec)
            t[(state, Interrupt)] = _row(_interrupt, same, closing, rec)
            t[(state, OriginateResponse)] = _row(_originate_response, same)
            t[(state, AgiStarted)] = _row(_ignore, same)  # a second session: not ours
        if state in _LIVE:
            t[(state, DigitHeard)] = _row(
                _digit, same, _S.REVOKING, _S.SUPPRESSING, _S.PLAYING, _S.LISTENING, closing
            )
    t[(_S.READY, OriginateSent)] = _row(_originate_sent, _S.ORIGINATING)
    t[(_S.READY, NotSent)] = _row(_not_sent, rec)
    t[(_S.READY, Interrupt)] = _row(_interrupt_before_dial, rec)
    t[(_S.ORIGINATING, NotSent)] = _row(_not_sent, rec)
    t[(_S.ORIGINATING, OriginateResponse)] = _row(
        _originate_response, _S.ANSWERED, _S.UNANSWERED, rec
    )
    for state in (_S.ORIGINATING, _S.UNANSWERED, _S.ANSWERED):
        t[(state, AgiStarted)] = _row(_agi_started, _S.PLAYING, _S.VOICEMAIL)
    for state in (_S.REVOKING, _S.SUPPRESSING):
        t[(state, AgiStarted)] = _row(_agi_joined, state)
    t[(_S.REVOKING, DigitHeard)] = _row(_ignore, _S.REVOKING)  # already revoking
    for state in (_S.PLAYING, _S.LISTENING, _S.VOICEMAIL, _S.CONFIRMING):
        t[(state, PlaybackFinished)] = _row(_playback_finished, state, _S.LISTENING, closing, rec)
    return t


#: (state, event type) -> (handler, the states it may lead to): the documentation
TRANSITIONS = _build()
