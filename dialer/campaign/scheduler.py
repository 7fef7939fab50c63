"""Which contact is dialled when: pure decisions, no I/O.

The runner asks ``plan`` at start (and after every finished attempt through
``after_attempt``) what to do with each contact of the list, given every
attempt already stored. Rules:

==========================================  =====================================
latest state of the contact                 decision
==========================================  =====================================
no attempt yet                              dial now
latest decision was *blocked* by the gate   gate again now (consent may have
  (or allowed, but never sent: not-placed)  changed; a block is not a call)
completed / opted-out / wrong-number        done: never dialled again
interrupted / -by-shutdown / -by-pbx (the   dial again now, while the contact has
  engine died, was stopped, or Asterisk     had at most ``retry_interrupted``
  went away after the answer, before the    such calls (the campaign's setting,
  whole message; no 9/8: recovery.py)       default 1); these calls do not count
                                            against max_attempts
busy / no-answer / failed (not an           dial again at ended + retry_delay
  unallocated number), < max_attempts calls
otherwise                                   done
==========================================  =====================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dialer.model.campaign import AttemptRow
from dialer.model.outcome import INTERRUPTED_OUTCOMES, Outcome
from dialer.telephony.outcomes import BAD_NUMBER_CAUSES

FINAL_OUTCOMES = frozenset({Outcome.COMPLETED, Outcome.OPTED_OUT, Outcome.WRONG_NUMBER})
RETRYABLE_OUTCOMES = frozenset({Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED})
#: cut short by the engine (crash, shutdown) or Asterisk after the answer, before the
#: whole message: dialled again (issue 13; contract 1 of the session)
REDIALLED_INTERRUPTIONS = INTERRUPTED_OUTCOMES
#: how many calls cut short by the engine a contact may have before it is left alone
DEFAULT_RETRY_INTERRUPTED = 1


@dataclass(frozen=True, order=True)
class Planned:
    due: dt.datetime
    contact_id: int
    attempt_no: int  # the number this placed call will have if the gate allows it


def next_step(
    contact_id: int,
    attempts: Sequence[AttemptRow],
    *,
    max_attempts: int,
    retry_delay: dt.timedelta,
    now: dt.datetime,
    retry_interrupted: int = DEFAULT_RETRY_INTERRUPTED,
) -> Planned | None:
    """The next planned attempt for one contact, or None when it is done."""
    if not attempts:
        return Planned(now, contact_id, 1)
    placed = [a for a in attempts if a.allowed and a.outcome is not Outcome.NOT_PLACED]
    latest = attempts[-1]
    if not latest.allowed or latest.outcome is Outcome.NOT_PLACED:
        return Planned(now, contact_id, len(placed) + 1)
    if latest.outcome is None:
        return None  # still in progress in another runner: leave it alone
    cut_short = [a for a in placed if a.outcome in REDIALLED_INTERRUPTIONS]
    if latest.outcome in REDIALLED_INTERRUPTIONS:
        if len(cut_short) <= retry_interrupted:
            return Planned(now, contact_id, len(placed) + 1)
        return None
    if latest.outcome in FINAL_OUTCOMES or latest.outcome not in RETRYABLE_OUTCOMES:
        return None
    if latest.hangup_cause in BAD_NUMBER_CAUSES or len(placed) - len(cut_short) >= max_attempts:
        return None
    return Planned(max(now, latest.decided_at + retry_delay), contact_id, len(placed) + 1)


def plan(
    contact_ids: Iterable[int],
    attempts: Iterable[AttemptRow],
    *,
    max_attempts: int,
    retry_delay: dt.timedelta,
    now: dt.datetime,
    retry_interrupted: int = DEFAULT_RETRY_INTERRUPTED,
) -> list[Planned]:
    """Planned attempts for a whole list, earliest first (list order breaks ties)."""
    by_contact: dict[int, list[AttemptRow]] = {}
    for attempt in attempts:
        by_contact.setdefault(attempt.contact_id, []).append(attempt)
    planned = []
    for contact_id in contact_ids:
        step = next_step(
            contact_id,
            by_contact.get(contact_id, []),
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            now=now,
            retry_interrupted=retry_interrupted,
        )
        if step is not None:
            planned.append(step)
    planned.sort(key=lambda p: p.due)
    return planned
