"""Outcome mapping from Asterisk's reasons, dial statuses and Q.850 causes."""

from __future__ import annotations

import pytest

from dialer.telephony.outcomes import (
    Outcome,
    OutcomeDecision,
    Reason,
    classify_call,
    parse_cause,
)

B, NA, F, C = Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED, Outcome.COMPLETED

# (reason, dial status, cause, agi ran, digits) -> (outcome, detail, retryable)
TABLE = [
    # answered and the message ran
    (Reason.ANSWERED, "ANSWER", 16, True, "", (C, "answered", False)),
    (None, None, None, True, "", (C, "answered", False)),
    # busy, every way Asterisk can say it
    (Reason.BUSY, "BUSY", 17, False, "", (B, "busy", True)),
    (None, "BUSY", None, False, "", (B, "busy", True)),
    (None, None, 17, False, "", (B, "busy", True)),
    (Reason.BUSY, None, None, False, "", (B, "busy", True)),
    (Reason.HUNG_UP_BEFORE_ANSWER, None, 21, False, "", (B, "rejected", True)),
    # no answer
    (Reason.NO_ANSWER, "NOANSWER", 19, False, "", (NA, "no-answer", True)),
    (None, None, 19, False, "", (NA, "no-answer", True)),
    (None, None, 18, False, "", (NA, "no-answer", True)),
    (Reason.NO_ANSWER, None, None, False, "", (NA, "no-answer", True)),
    (Reason.HUNG_UP_BEFORE_ANSWER, "CANCEL", 16, False, "", (NA, "cancelled", True)),
    (Reason.HUNG_UP_BEFORE_ANSWER, None, None, False, "", (NA, "cancelled", True)),
    (None, None, 16, False, "", (NA, "no-answer", True)),
    # congestion / unavailable: failed but worth another try
    (Reason.CONGESTION, "CONGESTION", 34, False, "", (F, "congestion", True)),
    (None, None, 34, False, "", (F, "congestion", True)),
    (None, None, 38, False, "", (F, "congestion", True)),
    (Reason.CONGESTION, None, None, False, "", (F, "congestion", True)),
    (Reason.REQUEST_FAILED, "CHANUNAVAIL", 20, False, "", (F, "unavailable", True)),
    (None, None, 27, False, "", (F, "unavailable", True)),
    # the number itself is wrong: never retry (C16 flags it)
    (Reason.REQUEST_FAILED, "CHANUNAVAIL", 1, False, "", (F, "unallocated", False)),
    (Reason.CONGESTION, "CONGESTION", 1, False, "", (F, "unallocated", False)),
    (None, "NOANSWER", 1, False, "", (F, "unallocated", False)),
    (None, None, 3, False, "", (F, "unallocated", False)),
    (None, None, 22, False, "", (F, "unallocated", False)),
    (None, None, 28, False, "", (F, "unallocated", False)),
    # answered, but our message never played
    (Reason.ANSWERED, "ANSWER", 16, False, "", (F, "no-message", False)),
    (None, "ANSWER", None, False, "", (F, "no-message", False)),
    # nothing useful
    (Reason.REQUEST_FAILED, None, None, False, "", (F, "request-failed", False)),
    (None, None, None, False, "", (F, "unknown", False)),
    (None, "WEIRD", 99, False, "", (F, "unknown", False)),
    # lower-case / padded status still reads
    (None, " busy ", None, False, "", (B, "busy", True)),
]


@pytest.mark.parametrize(("reason", "status", "cause", "agi", "digits", "expected"), TABLE)
def test_telephony_outcomes(
    reason: int | None,
    status: str | None,
    cause: int | None,
    agi: bool,
    digits: str,
    expected: tuple[Outcome, str, bool],
) -> None:
    decision = classify_call(
        reason=reason, dial_status=status, cause=cause, agi_ran=agi, digits=digits
    )
    assert decision == OutcomeDecision(*expected)


def test_c10_keypad_9_seen_by_ami_means_opted_out() -> None:
    """C10: a 9 pressed after answer counts even if the AGI route missed it."""
    d = classify_call(reason=Reason.ANSWERED, dial_status="ANSWER", agi_ran=True, digits="19")
    assert d == OutcomeDecision(Outcome.OPTED_OUT, "keypad", False)


def test_c16_keypad_8_seen_by_ami_means_wrong_number() -> None:
    d = classify_call(agi_ran=True, digits="8")
    assert d == OutcomeDecision(Outcome.WRONG_NUMBER, "keypad", False)


def test_digits_before_answer_do_not_count() -> None:
    assert classify_call(dial_status="BUSY", digits="9").outcome is Outcome.BUSY


@pytest.mark.parametrize("verdict", ["completed", "opted-out", "wrong-number"])
def test_route_verdict_wins(verdict: str) -> None:
    d = classify_call(dial_status="BUSY", agi_ran=True, digits="9", route_outcome=verdict)
    assert d == OutcomeDecision(Outcome(verdict), "route", False)


@pytest.mark.parametrize("verdict", ["busy", "no-answer", "failed"])
def test_route_cannot_decide_telephony_outcomes(verdict: str) -> None:
    with pytest.raises(ValueError, match="cannot decide"):
        classify_call(route_outcome=verdict)


def test_unknown_route_verdict_is_refused() -> None:
    with pytest.raises(ValueError):
        classify_call(route_outcome="maybe")


def test_retryable_only_for_transient_results() -> None:
    retryable = {
        (d.outcome, d.detail)
        for row in TABLE
        if (d := classify_call(reason=row[0], dial_status=row[1], cause=row[2], agi_ran=row[3]))
        and d.retryable
    }
    assert {o for o, _ in retryable} <= {Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED}
    assert all(detail != "unallocated" for _, detail in retryable)
    assert (Outcome.FAILED, "congestion") in retryable


@pytest.mark.parametrize(
    ("raw", "value"),
    [("17", 17), (" 16 ", 16), ("", None), (None, None), ("abc", None), (21, 21), ("-1", None)],
)
def test_parse_cause(raw: str | int | None, value: int | None) -> None:
    assert parse_cause(raw) == value


def test_outcome_strings_are_the_documented_ones() -> None:
    assert {o.value for o in Outcome} == {
        "completed",
        "opted-out",
        "busy",
        "no-answer",
        "failed",
        "wrong-number",
    }
