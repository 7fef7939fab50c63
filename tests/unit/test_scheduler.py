"""The scheduler's decisions (pure): who is dialled, gated again, retried, or done."""

from __future__ import annotations

import datetime as dt

import pytest

from dialer.campaign.scheduler import next_step, plan
from dialer.model.campaign import AttemptRow
from dialer.model.outcome import AttemptState, Outcome

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
DELAY = dt.timedelta(minutes=5)


def attempt(
    contact: int = 1,
    *,
    allowed: bool = True,
    outcome: Outcome | None = Outcome.COMPLETED,
    at: dt.datetime = NOW - dt.timedelta(minutes=10),
    cause: int | None = None,
    no: int = 1,
) -> AttemptRow:
    return AttemptRow(
        id=f"c{contact}-{no}-{allowed}",
        contact_id=contact,
        attempt_no=no,
        decided_at=at,
        allowed=allowed,
        reason="allowed" if allowed else "no-consent",
        detail="",
        state=AttemptState.DONE,
        outcome=outcome if allowed else Outcome.BLOCKED,
        ami_reason=None,
        dial_status=None,
        hangup_cause=cause,
        digits="",
        language="en",
        note="",
    )


def step(*attempts: AttemptRow, max_attempts: int = 3):  # type: ignore[no-untyped-def]
    return next_step(1, list(attempts), max_attempts=max_attempts, retry_delay=DELAY, now=NOW)


def test_never_tried_is_dialled_now() -> None:
    planned = step()
    assert planned is not None and planned.due == NOW and planned.attempt_no == 1


@pytest.mark.parametrize("outcome", [Outcome.COMPLETED, Outcome.OPTED_OUT, Outcome.WRONG_NUMBER])
def test_final_outcomes_are_never_dialled_again(outcome: Outcome) -> None:
    assert step(attempt(outcome=outcome)) is None


def test_blocked_is_gated_again_now_without_counting_as_a_call() -> None:
    planned = step(attempt(allowed=False))
    assert planned is not None and planned.due == NOW and planned.attempt_no == 1


@pytest.mark.parametrize("outcome", [Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED])
def test_retryable_outcomes_wait_the_retry_delay(outcome: Outcome) -> None:
    last = attempt(outcome=outcome, at=NOW - dt.timedelta(minutes=1))
    planned = step(last)
    assert planned is not None
    assert planned.due == last.decided_at + DELAY
    assert planned.attempt_no == 2


def test_retries_stop_at_max_attempts() -> None:
    busy = [attempt(outcome=Outcome.BUSY, no=n) for n in (1, 2, 3)]
    assert step(*busy, max_attempts=3) is None
    assert step(*busy[:2], max_attempts=3) is not None


def test_unallocated_number_is_not_retried() -> None:
    assert step(attempt(outcome=Outcome.FAILED, cause=1)) is None


def test_in_progress_attempt_is_left_alone() -> None:
    assert step(attempt(outcome=None)) is None


def test_plan_orders_by_due_time_and_list_order() -> None:
    rows = [
        attempt(2, outcome=Outcome.BUSY, at=NOW - dt.timedelta(minutes=1)),
        attempt(3, outcome=Outcome.COMPLETED),
    ]
    planned = plan([1, 2, 3, 4], rows, max_attempts=2, retry_delay=DELAY, now=NOW)
    assert [p.contact_id for p in planned] == [1, 4, 2]


@pytest.mark.parametrize(
    "outcome",
    [Outcome.INTERRUPTED, Outcome.INTERRUPTED_BY_SHUTDOWN, Outcome.INTERRUPTED_BY_PBX],
)
def test_calls_the_engine_cut_short_are_dialled_again_once(outcome: Outcome) -> None:
    """Contract 1 / issue 13: retried once at the next start, outside max_attempts
    (a crash's ``interrupted`` too: the callee did not hear the whole message)."""
    first = attempt(outcome=outcome)
    planned = step(first, max_attempts=1)
    assert planned is not None and planned.due == NOW and planned.attempt_no == 2
    second = attempt(outcome=outcome, no=2)
    assert step(first, second, max_attempts=1) is None
    assert next_step(
        1, [first, second], max_attempts=1, retry_delay=DELAY, now=NOW, retry_interrupted=2
    )


def test_a_call_cut_short_does_not_use_up_a_busy_retry() -> None:
    cut = attempt(outcome=Outcome.INTERRUPTED_BY_PBX, at=NOW - dt.timedelta(hours=1))
    busy = attempt(outcome=Outcome.BUSY, no=2)
    planned = step(cut, busy, max_attempts=2)
    assert planned is not None and planned.attempt_no == 3


@pytest.mark.parametrize("times", [0, 1, 2])
def test_retry_interrupted_bounds_the_calls_cut_short(times: int) -> None:
    """--retry-interrupted 0|1|2: at most 1 + times calls cut short per contact."""
    cut: list[AttemptRow] = []
    while True:
        planned = next_step(
            1, cut, max_attempts=1, retry_delay=DELAY, now=NOW, retry_interrupted=times
        )
        if planned is None:
            break
        cut.append(attempt(outcome=Outcome.INTERRUPTED, no=planned.attempt_no))
        assert len(cut) <= 3
    assert len(cut) == 1 + times


def test_plan_passes_retry_interrupted() -> None:
    rows = [attempt(1, outcome=Outcome.INTERRUPTED), attempt(2, outcome=Outcome.INTERRUPTED)]
    kwargs = {"max_attempts": 1, "retry_delay": DELAY, "now": NOW}
    assert [p.contact_id for p in plan([1, 2], rows, **kwargs)] == [1, 2]  # type: ignore[arg-type]
    assert plan([1, 2], rows, retry_interrupted=0, **kwargs) == []  # type: ignore[arg-type]
