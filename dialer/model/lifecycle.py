"""A campaign's lifecycle as a table (contract 2; pure, no I/O).

    draft ──start──► running ◄──resume── paused
      │                │  ▲                 ▲
      └──schedule──► scheduled            pause (from running)
                       │ begin (start_at reached: the service's scheduler)
                       ▼
                    running ──complete──► completed ──start/schedule──► (again)

    cancel: from draft, scheduled, running or paused ──► cancelled (final)
    run (``dialer campaign run`` in the foreground): from any state but
    cancelled ──► running (the engine lock guarantees no other engine runs it,
    so a "running" left behind by a crash is stale and may be taken over).

Rules stated once:

* Every change is a compare-and-set in the store, with a row in
  ``campaign_transitions`` and a hash-chained audit entry (C19): who, why, when.
* ``cancelled`` is final; a completed campaign may be started again (a new
  run re-gates blocked contacts and retries busy/unanswered ones, never
  redials a finished contact).
* ``cancel`` needs a reason; ``pause`` may have one.
* A transition not in the table is refused with a message saying what the
  state allows instead.
"""

from __future__ import annotations

from enum import StrEnum

from dialer.errors import StateError


class CampaignState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Command(StrEnum):
    START = "start"  # start now
    SCHEDULE = "schedule"  # start at a time
    BEGIN = "begin"  # the scheduler: a scheduled campaign's time has come
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    COMPLETE = "complete"  # the engine: every contact is done
    RUN = "run"  # the foreground ``campaign run``


S, C = CampaignState, Command

TRANSITIONS: dict[tuple[CampaignState, Command], CampaignState] = {
    (S.DRAFT, C.START): S.RUNNING,
    (S.DRAFT, C.SCHEDULE): S.SCHEDULED,
    (S.SCHEDULED, C.START): S.RUNNING,
    (S.SCHEDULED, C.SCHEDULE): S.SCHEDULED,
    (S.SCHEDULED, C.BEGIN): S.RUNNING,
    (S.COMPLETED, C.START): S.RUNNING,
    (S.COMPLETED, C.SCHEDULE): S.SCHEDULED,
    (S.RUNNING, C.PAUSE): S.PAUSED,
    (S.PAUSED, C.RESUME): S.RUNNING,
    (S.RUNNING, C.COMPLETE): S.COMPLETED,
    **{(state, C.CANCEL): S.CANCELLED for state in (S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED)},
    **{(state, C.RUN): S.RUNNING for state in S if state is not S.CANCELLED},
}

#: states in which the engine places calls for the campaign
DIALING_STATES = frozenset({S.RUNNING})

_HINTS: dict[CampaignState, str] = {
    S.DRAFT: "start it with 'dialer campaign start {name}'",
    S.SCHEDULED: "start it now with 'dialer campaign start {name}', or cancel it",
    S.RUNNING: "pause it with 'dialer campaign pause {name}', or cancel it",
    S.PAUSED: "resume it with 'dialer campaign resume {name}', or cancel it",
    S.COMPLETED: "start it again with 'dialer campaign start {name}' to retry what is left",
    S.CANCELLED: "a cancelled campaign stays cancelled; create a new one",
}


def transition(name: str, state: CampaignState, command: Command) -> CampaignState:
    """The state ``command`` leads to from ``state``; ``StateError`` when not allowed."""
    target = TRANSITIONS.get((state, command))
    if target is None:
        hint = _HINTS[state].format(name=name)
        raise StateError(f"campaign {name!r} is {state.value}: cannot {command.value} it ({hint})")
    return target
