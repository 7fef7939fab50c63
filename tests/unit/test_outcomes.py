"""Outcome mapping from Asterisk's reasons, dial statuses and Q.850 causes."""

from __future__ import annotations

import pytest

from dialer.model.outcome import Outcome
from dialer.telephony.outcomes import DialResult, Reason, classify_dial, parse_cause

D = DialResult

# (reason, dial status, cause) -> result
TABLE = [
    # busy, every way Asterisk can say it
    (Reason.BUSY, "BUSY", 17, D.BUSY),
    (None, "BUSY", None, D.BUSY),
    (None, None, 17, D.BUSY),
    (Reason.BUSY, None, None, D.BUSY),
    (Reason.HUNG_UP_BEFORE_ANSWER, None, 21, D.REJECTED),
    # no answer
    (Reason.NO_ANSWER, "NOANSWER", 19, D.NO_ANSWER),
    (None, None, 19, D.NO_ANSWER),
    (None, None, 18, D.NO_ANSWER),
    (Reason.NO_ANSWER, None, None, D.NO_ANSWER),
    (Reason.HUNG_UP_BEFORE_ANSWER, "CANCEL", 16, D.CANCELLED),
    (Reason.HUNG_UP_BEFORE_ANSWER, None, None, D.CANCELLED),
    (None, None, 16, D.NO_ANSWER),
    # congestion / unavailable
    (Reason.CONGESTION, "CONGESTION", 34, D.CONGESTION),
    (None, None, 34, D.CONGESTION),
    (None, None, 38, D.CONGESTION),
    (Reason.CONGESTION, None, None, D.CONGESTION),
    (Reason.REQUEST_FAILED, "CHANUNAVAIL", 20, D.UNAVAILABLE),
    (None, None, 27, D.UNAVAILABLE),
    # the number itself is wrong (C16 flags it)
    (Reason.REQUEST_FAILED, "CHANUNAVAIL", 1, D.UNALLOCATED),
    (Reason.CONGESTION, "CONGESTION", 1, D.UNALLOCATED),
    (None, "NOANSWER", 1, D.UNALLOCATED),
    (None, None, 3, D.UNALLOCATED),
    (None, None, 22, D.UNALLOCATED),
    (None, None, 28, D.UNALLOCATED),
    # answered (the call state machine decides what an answer without a message is)
    (Reason.ANSWERED, "ANSWER", 16, D.ANSWERED),
    (None, "ANSWER", None, D.ANSWERED),
    # nothing useful
    (Reason.REQUEST_FAILED, None, None, D.REQUEST_FAILED),
    (None, None, None, D.UNKNOWN),
    (None, "WEIRD", 99, D.UNKNOWN),
    # lower-case / padded status still reads
    (None, " busy ", None, D.BUSY),
    # direct originate (DESIGN.md): reason + the channel's own cause
    (Reason.BUSY, None, None, D.BUSY),
    (Reason.NO_ANSWER, None, 19, D.NO_ANSWER),
    (Reason.REQUEST_FAILED, None, 1, D.UNALLOCATED),
    (Reason.REQUEST_FAILED, None, 34, D.CONGESTION),
    (Reason.REQUEST_FAILED, None, 21, D.REJECTED),
]


@pytest.mark.parametrize(("reason", "status", "cause", "expected"), TABLE)
def test_dial_results(
    reason: int | None, status: str | None, cause: int | None, expected: DialResult
) -> None:
    assert classify_dial(reason=reason, dial_status=status, cause=cause) is expected


@pytest.mark.parametrize(
    ("raw", "value"),
    [("17", 17), (" 16 ", 16), ("", None), (None, None), ("abc", None), (21, 21), ("-1", None)],
)
def test_parse_cause(raw: str | int | None, value: int | None) -> None:
    assert parse_cause(raw) == value


def test_outcome_strings_are_the_documented_ones() -> None:
    """One Outcome enum for the whole dialer (campaign/model.py)."""
    assert {o.value for o in Outcome} == {
        "completed",
        "opted-out",
        "wrong-number",
        "busy",
        "no-answer",
        "failed",
        "blocked",
        "interrupted",
        "interrupted-by-shutdown",
        "interrupted-by-pbx",
        "not-placed",
    }


def test_only_one_outcome_enum_exists() -> None:
    import dialer.telephony.outcomes as telephony

    assert not hasattr(telephony, "Outcome")
