"""The call state machine (dialer/campaign/callflow.py): the table, every cell, every order.

Pure tests: no I/O. ``Shell`` below plays the part of the runner/route/AMI: it
collects commands and keeps the facts a real shell keeps (pending writes).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.campaign.callevents import (
    EVENT_TYPES,
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
from dialer.campaign.callflow import TRANSITIONS, CallFlow
from dialer.model.outcome import Outcome

POLICY = CallPolicy(segments=3, voicemail_segments=2)


class Shell:
    """Feeds events and keeps every command, like the asyncio shell does."""

    def __init__(self, policy: CallPolicy = POLICY) -> None:
        self.flow = CallFlow(policy)
        self.commands: list[Command] = []
        self.fed: list[tuple[State, Event]] = []

    def feed(self, *events: Event) -> list[Command]:
        out: list[Command] = []
        for event in events:
            self.fed.append((self.flow.state, event))
            out += self.flow.handle(event)
        self.commands += out
        return out

    def of(self, kind: type) -> list[Command]:
        return [c for c in self.commands if isinstance(c, kind)]

    @property
    def outcome(self) -> Outcome | None:
        records = self.of(RecordOutcome)
        return records[-1].outcome if records else None  # type: ignore[union-attr]

    def last_play(self) -> Play | Listen:
        plays = [c for c in self.commands if isinstance(c, Play | Listen)]
        return plays[-1]  # type: ignore[return-value]


def answered_call(policy: CallPolicy = POLICY) -> Shell:
    shell = Shell(policy)
    shell.feed(OriginateSent(), OriginateResponse(True, 4), AgiStarted())
    return shell


def play_to_end(shell: Shell) -> None:
    while shell.flow.state is State.PLAYING:
        shell.feed(PlaybackFinished(shell.flow.play_id))


# ----------------------------------------------------------- everyday calls


def test_a_call_that_listens_to_the_end_is_completed() -> None:
    shell = answered_call()
    assert shell.of(Play)[0] == Play(1, Sound("segment", 0), "98*")
    play_to_end(shell)
    assert shell.flow.state is State.LISTENING
    assert isinstance(shell.last_play(), Listen)
    shell.feed(PlaybackFinished(shell.flow.play_id))  # nothing pressed while listening
    assert shell.of(HangUp)
    assert shell.outcome is None  # rule 5: not before the line and the session ended
    shell.feed(Hangup(16), AgiEnded())
    assert shell.outcome is Outcome.COMPLETED
    shell.feed(StoreDone(Write.OUTCOME))
    assert shell.flow.finished
    marks = [c.mark for c in shell.of(RecordProgress)]  # type: ignore[attr-defined]
    assert marks == [
        Mark.ORIGINATE_SENT,
        Mark.ANSWERED,
        Mark.SEGMENT,
        Mark.SEGMENT,
        Mark.COMPLETED,
    ]


def test_c10_9_by_agi_revokes_then_confirms_then_hangs_up() -> None:
    shell = answered_call()
    commands = shell.feed(DigitHeard("9", "agi", shell.flow.play_id))
    assert commands == [RecordProgress(Mark.DIGIT, "9"), Revoke(1)]
    assert shell.flow.state is State.REVOKING
    shell.feed(DigitHeard("9", "ami"))  # the same key, reported by AMI too
    assert len(shell.of(Revoke)) == 1
    shell.feed(StoreDone(Write.REVOKE))
    assert shell.last_play() == Play(2, Sound("optout-confirmation"), "")
    shell.feed(PlaybackFinished(2))
    assert shell.of(HangUp)
    shell.feed(AgiEnded(), Hangup(16), StoreDone(Write.OUTCOME))
    assert shell.outcome is Outcome.OPTED_OUT and shell.flow.finished


def test_c10_telemarketing_ends_at_once_after_the_commit() -> None:
    shell = answered_call(CallPolicy(segments=3, telemarketing=True))
    shell.feed(DigitHeard("9", "agi", 1), StoreDone(Write.REVOKE))
    assert not [p for p in shell.of(Play) if p.sound.kind == "optout-confirmation"]  # type: ignore[attr-defined]
    assert shell.of(HangUp)


def test_c10_race_9_seen_only_by_ami_then_hangup_is_an_opt_out() -> None:
    """Race 1 of issue 7: the route never heard the 9; the callee hung up 0.3 s later."""
    shell = answered_call()
    shell.feed(DigitHeard("9", "ami"))
    assert shell.of(Revoke) == [Revoke(1)]
    shell.feed(Hangup(16), AgiEnded())
    assert shell.outcome is None  # the revocation is not committed yet
    shell.feed(StoreDone(Write.REVOKE))
    assert shell.outcome is Outcome.OPTED_OUT


def test_c16_race_8_seen_only_by_ami_suppresses_the_number() -> None:
    """Race 2 of issue 7: an 8 only AMI saw still suppresses the number."""
    shell = answered_call()
    shell.feed(DigitHeard("8", "ami"), Hangup(16), AgiEnded())
    assert shell.of(SuppressWrongParty) == [SuppressWrongParty(1)]
    shell.feed(StoreDone(Write.SUPPRESS))
    assert shell.outcome is Outcome.WRONG_NUMBER


def test_c10_race_9_while_the_store_fails_is_retried_until_committed() -> None:
    """Race 3 of issue 7: every failed write is commanded again, never dropped."""
    shell = answered_call()
    shell.feed(DigitHeard("9", "agi", 1))
    for attempt in range(2, 12):
        shell.feed(StoreFailed(Write.REVOKE, "database is locked"))
        assert shell.of(Revoke)[-1] == Revoke(attempt)
        assert not shell.of(HangUp)  # C10: nobody is released before the commit
    shell.feed(Hangup(16), AgiEnded())
    assert shell.outcome is None
    shell.feed(StoreDone(Write.REVOKE))
    assert shell.outcome is Outcome.OPTED_OUT


def test_9_after_8_revokes_and_wins() -> None:
    shell = answered_call()
    shell.feed(DigitHeard("8", "agi", 1), DigitHeard("9", "ami"))
    assert shell.of(SuppressWrongParty) and shell.of(Revoke)
    shell.feed(StoreDone(Write.REVOKE))
    assert shell.flow.state is State.REVOKING  # still waiting for the suppression
    shell.feed(StoreDone(Write.SUPPRESS))
    assert shell.last_play().sound == Sound("optout-confirmation")  # type: ignore[union-attr]
    shell.feed(Hangup(), AgiEnded())
    assert shell.outcome is Outcome.OPTED_OUT


def test_8_after_9_changes_nothing() -> None:
    shell = answered_call()
    shell.feed(DigitHeard("9", "agi", 1), DigitHeard("8", "ami"))
    assert not shell.of(SuppressWrongParty)


def test_star_repeats_the_message_twice_at_most() -> None:
    shell = answered_call()
    for _ in range(3):
        shell.feed(PlaybackFinished(shell.flow.play_id))  # segment 1
        shell.feed(DigitHeard("*", "agi", shell.flow.play_id))
    segments = [p.sound.index for p in shell.of(Play)]  # type: ignore[attr-defined]
    assert segments == [0, 1, 0, 1, 0, 1, 2]


def test_keys_only_ami_heard_do_not_steer_the_message() -> None:
    shell = answered_call()
    shell.feed(DigitHeard("*", "ami"), DigitHeard("5", "ami"))
    assert len(shell.of(Play)) == 1


def test_a_play_that_ends_after_the_call_moved_on_is_ignored() -> None:
    shell = answered_call()
    shell.feed(DigitHeard("9", "ami"), StoreDone(Write.REVOKE))
    confirmation = shell.last_play()
    shell.feed(PlaybackFinished(1))  # the segment that was playing when AMI saw the 9
    assert not shell.of(HangUp)
    shell.feed(PlaybackFinished(confirmation.play_id))
    assert shell.of(HangUp)


def test_answering_machine_hears_the_voicemail_version() -> None:
    shell = Shell()
    shell.feed(OriginateSent(), OriginateResponse(True, 4), AgiStarted(machine=True))
    shell.feed(PlaybackFinished(1), PlaybackFinished(2))
    assert [p.sound for p in shell.of(Play)] == [Sound("voicemail", 0), Sound("voicemail", 1)]  # type: ignore[attr-defined]
    shell.feed(Hangup(16), AgiEnded())
    assert shell.outcome is Outcome.COMPLETED


@pytest.mark.parametrize(
    ("status", "cause", "reason", "outcome", "detail"),
    [
        ("BUSY", 17, 0, Outcome.BUSY, "busy"),
        ("NOANSWER", 19, 0, Outcome.NO_ANSWER, "no-answer"),
        ("CHANUNAVAIL", 1, 0, Outcome.FAILED, "unallocated"),
        ("CONGESTION", 34, 0, Outcome.FAILED, "congestion"),
    ],
)
def test_unanswered_calls_are_classified_from_the_dial_report(
    status: str, cause: int, reason: int, outcome: Outcome, detail: str
) -> None:
    shell = Shell()
    # the dialplan's report usually arrives before the OriginateResponse
    shell.feed(OriginateSent(), DialReport(status, cause), OriginateResponse(False, reason))
    record = shell.of(RecordOutcome)
    assert [(r.outcome, r.detail, r.cause) for r in record] == [(outcome, detail, cause)]  # type: ignore[attr-defined]


def test_unanswered_waits_for_the_report_then_gives_up() -> None:
    shell = Shell()
    shell.feed(OriginateSent(), OriginateResponse(False, 0))
    assert StartTimer(Timer.REPORT, POLICY.report_wait) in shell.commands
    assert shell.outcome is None
    shell.feed(Timeout(Timer.REPORT))
    assert shell.outcome is Outcome.FAILED  # reason 0 alone: request failed


def test_direct_originate_uses_reason_and_the_hangup_cause() -> None:
    """The direct originate (the default): no DialerDial report, Reason + Hangup cause."""
    shell = Shell(CallPolicy(segments=3, dial_report=False))
    shell.feed(OriginateSent(), OriginateResponse(False, 5))
    assert shell.outcome is None
    shell.feed(Hangup(17))
    assert shell.outcome is Outcome.BUSY
    shell2 = Shell(CallPolicy(segments=3, dial_report=False))
    shell2.feed(OriginateSent(), Hangup(1), OriginateResponse(False, 0))
    assert (shell2.outcome, shell2.of(RecordOutcome)[0].detail) == (Outcome.FAILED, "unallocated")  # type: ignore[attr-defined]


#: what a direct originate reports (OriginateResponse Reason, the channel's Hangup
#: cause) -> the outcome, detail and cause the report shows (as through the hop)
DIRECT = [
    (0, 17, Outcome.BUSY, "busy", 17),  # SIP 486, Hangup(17)
    (5, 0, Outcome.BUSY, "busy", 17),  # in-band Busy(): no cause
    (0, 21, Outcome.BUSY, "rejected", 21),  # SIP 603 Decline
    (3, 19, Outcome.NO_ANSWER, "no-answer", 19),
    (3, 0, Outcome.NO_ANSWER, "no-answer", 19),  # ring timeout, HANGUPCAUSE 0
    (3, 16, Outcome.NO_ANSWER, "no-answer", 16),
    (0, 1, Outcome.FAILED, "unallocated", 1),
    (0, 34, Outcome.FAILED, "congestion", 34),
    (8, 0, Outcome.FAILED, "congestion", 34),
    (0, 0, Outcome.FAILED, "request-failed", None),
]


@pytest.mark.parametrize(("reason", "cause", "outcome", "detail", "shown"), DIRECT)
@pytest.mark.parametrize("hangup_first", [False, True])
def test_direct_originate_matrix(
    reason: int, cause: int, outcome: Outcome, detail: str, shown: int | None, hangup_first: bool
) -> None:
    shell = Shell(CallPolicy(segments=3, dial_report=False))
    response = OriginateResponse(False, reason)
    shell.feed(OriginateSent())
    shell.feed(*((Hangup(cause), response) if hangup_first else (response, Hangup(cause))))
    record = shell.of(RecordOutcome)[0]
    assert (record.outcome, record.detail, record.cause) == (outcome, detail, shown)  # type: ignore[attr-defined]
    assert shell.outcome is outcome


def test_direct_originate_without_a_hangup_event_ends_on_the_report_timer() -> None:
    """A channel that was never created (no Hangup will come): bounded by a timer."""
    shell = Shell(CallPolicy(segments=3, dial_report=False))
    shell.feed(OriginateSent(), OriginateResponse(False, 0))
    assert StartTimer(Timer.REPORT, POLICY.report_wait) in shell.commands
    assert shell.outcome is None
    shell.feed(Timeout(Timer.REPORT))
    assert shell.outcome is Outcome.FAILED


def test_answered_without_a_message_is_failed_no_message() -> None:
    shell = Shell()
    shell.feed(OriginateSent(), OriginateResponse(True, 4), Hangup(16))
    record = shell.of(RecordOutcome)[0]
    assert (record.outcome, record.detail) == (Outcome.FAILED, "no-message")  # type: ignore[attr-defined]


def test_not_sent_is_not_placed() -> None:
    shell = Shell()
    shell.feed(OriginateSent(), NotSent())
    assert shell.outcome is Outcome.NOT_PLACED


def test_no_originate_response_hangs_up_and_records() -> None:
    shell = Shell()
    shell.feed(OriginateSent(), Timeout(Timer.ORIGINATE))
    assert shell.of(HangUp)
    shell.feed(Timeout(Timer.SETTLE))
    assert shell.outcome is Outcome.FAILED


def test_max_call_seconds_hangs_up() -> None:
    shell = answered_call()
    shell.feed(Timeout(Timer.MAX_CALL))
    assert shell.of(HangUp) and shell.flow.state is State.CLOSING
    shell.feed(Hangup(16), AgiEnded())
    assert shell.outcome is Outcome.COMPLETED
    assert "max_call_seconds" in shell.of(RecordOutcome)[0].note  # type: ignore[attr-defined]


def test_the_outcome_waits_for_the_ami_hangup_after_the_agi_session() -> None:
    """Rule 5: AMI delivers a channel's keys before its hangup; wait for it."""
    shell = answered_call()
    play_to_end(shell)
    shell.feed(PlaybackFinished(shell.flow.play_id), AgiEnded())
    assert shell.outcome is None
    shell.feed(DigitHeard("9", "ami"))  # pressed as we hung up: still an opt-out
    shell.feed(Hangup(16), StoreDone(Write.REVOKE))
    assert shell.outcome is Outcome.OPTED_OUT


def test_callee_hanging_up_mid_message_counts_after_the_pbx_grace() -> None:
    shell = answered_call()
    shell.feed(Hangup(16), AgiEnded())
    assert shell.outcome is None
    assert StartTimer(Timer.PBX_GRACE, POLICY.pbx_grace) in shell.commands
    shell.feed(Timeout(Timer.PBX_GRACE))
    record = shell.of(RecordOutcome)[0]
    assert (record.outcome, record.detail) == (Outcome.COMPLETED, "hung up during the message")  # type: ignore[attr-defined]


def test_asterisk_stopping_hangs_up_calls_before_ami_says_so() -> None:
    """Rule 8: the channel ends first, AMI's Shutdown a moment later: cut by the PBX."""
    shell = answered_call()
    shell.feed(Hangup(16), AgiEnded(), Interrupt(InterruptKind.PBX))
    assert shell.outcome is Outcome.INTERRUPTED_BY_PBX


def test_a_failed_outcome_write_is_repeated() -> None:
    shell = answered_call()
    play_to_end(shell)
    shell.feed(Hangup(16), AgiEnded(), StoreFailed(Write.OUTCOME, "disk full"))
    records = shell.of(RecordOutcome)
    assert [r.attempt for r in records] == [1, 2]  # type: ignore[attr-defined]
    assert records[0].outcome is records[1].outcome  # type: ignore[attr-defined]
    shell.feed(StoreDone(Write.OUTCOME))
    assert shell.flow.finished


# ------------------------------------------------------ shutdown, PBX loss


@pytest.mark.parametrize("kind", list(InterruptKind))
def test_interrupted_mid_message_is_retried_kind(kind: InterruptKind) -> None:
    shell = answered_call()
    shell.feed(Interrupt(kind))
    assert shell.of(HangUp)
    shell.feed(Hangup(), AgiEnded())
    expected = {
        InterruptKind.SHUTDOWN: Outcome.INTERRUPTED_BY_SHUTDOWN,
        InterruptKind.PBX: Outcome.INTERRUPTED_BY_PBX,
    }[kind]
    assert shell.outcome is expected


@pytest.mark.parametrize("kind", list(InterruptKind))
def test_interrupted_after_the_whole_message_is_completed(kind: InterruptKind) -> None:
    shell = answered_call()
    play_to_end(shell)
    shell.feed(Interrupt(kind), Hangup(), AgiEnded())
    assert shell.outcome is Outcome.COMPLETED


def test_shutdown_during_a_revocation_hangs_up_only_after_the_commit() -> None:
    shell = answered_call()
    shell.feed(DigitHeard("9", "agi", 1), Interrupt(InterruptKind.SHUTDOWN))
    assert not shell.of(HangUp)
    shell.feed(StoreDone(Write.REVOKE))
    assert shell.of(HangUp)
    assert not [p for p in shell.of(Play) if p.sound.kind == "optout-confirmation"]  # type: ignore[attr-defined]
    shell.feed(Hangup(), AgiEnded())
    assert shell.outcome is Outcome.OPTED_OUT


def test_pbx_loss_while_ringing_is_interrupted_by_pbx() -> None:
    shell = Shell()
    shell.feed(OriginateSent(), Interrupt(InterruptKind.PBX))
    assert shell.outcome is Outcome.INTERRUPTED_BY_PBX


def test_interrupt_before_the_originate_is_not_placed() -> None:
    shell = Shell()
    shell.feed(Interrupt(InterruptKind.SHUTDOWN))
    assert shell.outcome is Outcome.NOT_PLACED


# ------------------------------------------------- the table, cell by cell


def test_the_table_covers_every_state_and_event() -> None:
    assert set(TRANSITIONS) == {(s, e) for s in State for e in EVENT_TYPES}


#: a way to reach each state from READY
PATHS: dict[State, list[Event]] = {
    State.READY: [],
    State.ORIGINATING: [OriginateSent()],
    State.UNANSWERED: [OriginateSent(), OriginateResponse(False, 0)],
    State.ANSWERED: [OriginateSent(), OriginateResponse(True, 4)],
    State.PLAYING: [OriginateSent(), AgiStarted()],
    State.LISTENING: [
        OriginateSent(),
        AgiStarted(),
        PlaybackFinished(1),
        PlaybackFinished(2),
        PlaybackFinished(3),
    ],
    State.VOICEMAIL: [OriginateSent(), AgiStarted(machine=True)],
    State.REVOKING: [OriginateSent(), AgiStarted(), DigitHeard("9", "agi", 1)],
    State.SUPPRESSING: [OriginateSent(), AgiStarted(), DigitHeard("8", "agi", 1)],
    State.CONFIRMING: [
        OriginateSent(),
        AgiStarted(),
        DigitHeard("9", "agi", 1),
        StoreDone(Write.REVOKE),
    ],
    State.CLOSING: [OriginateSent(), AgiStarted(), Hangup(16)],
    State.RECORDING: [
        OriginateSent(),
        AgiStarted(),
        Hangup(16),
        AgiEnded(),
        Timeout(Timer.PBX_GRACE),
    ],
    State.DONE: [OriginateSent(), NotSent(), StoreDone(Write.OUTCOME)],
}

#: several instances of every event type
SAMPLES: dict[type, list[Event]] = {
    OriginateSent: [OriginateSent()],
    NotSent: [NotSent()],
    OriginateResponse: [
        OriginateResponse(True, 4),
        OriginateResponse(False, 0),
        OriginateResponse(False, None, refused=True),
    ],
    DialReport: [DialReport("BUSY", 17), DialReport("ANSWER", 16), DialReport(None, None)],
    AgiStarted: [AgiStarted(), AgiStarted(machine=True)],
    AgiEnded: [AgiEnded()],
    DigitHeard: [
        DigitHeard(d, src, pid)
        for d in "98*5"
        for src, pid in (("agi", 1), ("agi", 2), ("agi", 4), ("ami", None))
    ],
    PlaybackFinished: [PlaybackFinished(i) for i in (1, 2, 3, 4, 99)],
    StoreDone: [StoreDone(w) for w in Write],
    StoreFailed: [StoreFailed(w) for w in Write],
    Hangup: [Hangup(16), Hangup(None), Hangup(1)],
    Timeout: [Timeout(t) for t in Timer],
    Interrupt: [Interrupt(k) for k in InterruptKind],
}


def reach(state: State) -> CallFlow:
    flow = CallFlow(POLICY)
    for event in PATHS[state]:
        flow.handle(event)
    assert flow.state is state, f"path to {state} ends in {flow.state}"
    return flow


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda k: k.__name__)
def test_every_cell_leads_only_where_the_table_says(state: State, kind: type) -> None:
    targets = TRANSITIONS[(state, kind)][1]
    for event in SAMPLES[kind]:
        flow = reach(state)
        before = copy.deepcopy(flow)
        commands = flow.handle(event)
        assert flow.state in targets, (
            f"{state} + {event} -> {flow.state}, table says {sorted(targets)}"
        )
        _check_step(before, flow, event, commands)


def _check_step(before: CallFlow, after: CallFlow, event: Event, commands: list[Command]) -> None:
    """Invariants of one step, whatever the cell."""
    keypad_pending = bool(after.pending & {Write.REVOKE, Write.SUPPRESS})
    for command in commands:
        if isinstance(command, HangUp):
            assert not keypad_pending, "hung up before the keypad verdict was committed (C10)"
        if isinstance(command, Play) and "confirmation" in command.sound.kind:
            assert after.committed & {Write.REVOKE, Write.SUPPRESS}
    if before.state in (State.RECORDING, State.DONE):
        assert not [c for c in commands if isinstance(c, Revoke | SuppressWrongParty | Play)]
    records = [c for c in commands if isinstance(c, RecordOutcome)]
    assert len(records) <= 1


# ------------------------------------------------------- any order at all

ALPHABET: list[Event] = [e for samples in SAMPLES.values() for e in samples]


def _close_out(shell: Shell) -> None:
    """Everything that eventually happens: the line ends, writes finish, timers fire."""
    for _ in range(20):
        if shell.flow.finished:
            return
        if shell.flow.state is State.READY:
            shell.feed(NotSent())
        shell.feed(Timeout(Timer.ORIGINATE), Hangup(16), AgiEnded())
        shell.feed(Timeout(Timer.REPORT), Timeout(Timer.SETTLE), Timeout(Timer.PBX_GRACE))
        for write in sorted(shell.flow.pending):
            shell.feed(StoreDone(write))
    raise AssertionError(f"never finished: {shell.flow.state}, fed {shell.fed}")


#: states in which no key can be heard: no channel yet, or the call is over
NO_LINE = (State.READY, State.RECORDING, State.DONE)


def _nine_heard(fed: Iterable[tuple[State, Event]]) -> bool:
    return any(isinstance(e, DigitHeard) and e.digit == "9" and s not in NO_LINE for s, e in fed)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ALPHABET), max_size=40))
def test_any_event_order_ends_in_exactly_one_outcome(events: Sequence[Event]) -> None:
    shell = Shell()
    for event in events:
        before = copy.copy(shell.flow)
        before.pending = set(shell.flow.pending)
        _check_step(before, shell.flow, event, shell.feed(event))
    _close_out(shell)
    records = shell.of(RecordOutcome)
    outcomes = {r.outcome for r in records}  # type: ignore[attr-defined]
    assert len(outcomes) == 1, records
    failed = sum(
        1
        for s, e in shell.fed
        if isinstance(e, StoreFailed) and e.write is Write.OUTCOME and s is State.RECORDING
    )
    assert len(records) == 1 + failed
    assert shell.flow.finished
    if _nine_heard(shell.fed):
        # C10: any 9 heard ends in a committed revocation and an opt-out
        assert shell.of(Revoke)
        assert Write.REVOKE in shell.flow.committed
        assert shell.outcome is Outcome.OPTED_OUT
    elif Write.SUPPRESS in shell.flow.committed:
        assert shell.outcome is Outcome.WRONG_NUMBER


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=30), st.integers(0, 30))
def test_a_9_at_any_moment_of_a_live_call_is_never_lost(events: Sequence[Event], at: int) -> None:
    shell = Shell()
    shell.feed(OriginateSent())
    events = list(events)
    events.insert(min(at, len(events)), DigitHeard("9", "ami"))
    for event in events:
        shell.feed(event)
    _close_out(shell)
    if _nine_heard(shell.fed):
        assert Write.REVOKE in shell.flow.committed and shell.outcome is Outcome.OPTED_OUT
