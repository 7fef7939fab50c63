"""Campaign reports: outcome per contact (numbers masked, C18), totals, reasons.

Streamed (issue 11): ``report_rows`` walks the campaign's pinned list version
a page at a time, in dialling order, with each page's attempts read through
the ``(campaign_id, contact_id)`` index; the totals are counted on the way.
A report of a million contacts starts printing at once and never holds more
than a page. ``campaign_report`` builds the whole report as one dict, for
small campaigns and the web page; ``report_csv`` writes the CSV form.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from dialer.masking import mask_number, mask_text
from dialer.model.campaign import AttemptRow, Campaign
from dialer.model.contact import Contact
from dialer.model.outcome import INTERRUPTED_OUTCOMES, Outcome
from dialer.store.store import Store

#: contacts per page of a streamed report
REPORT_PAGE = 1000


def _placed(attempt: AttemptRow) -> bool:
    return attempt.allowed and attempt.outcome is not Outcome.NOT_PLACED


@dataclass
class ReportTotals:
    """What the report counts while it streams its rows."""

    contacts: int = 0
    calls_placed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    blocked_by_reason: Counter[str] = field(default_factory=Counter)
    language_fallbacks: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "contacts": self.contacts,
            "calls_placed": self.calls_placed,
            "outcomes": dict(self.outcomes),
            "blocked_by_reason": dict(self.blocked_by_reason),
            "language_fallbacks": self.language_fallbacks,
        }


def contact_row(
    contact: Contact,
    history: list[AttemptRow],
    totals: ReportTotals,
    *,
    reveal: bool = False,
    skipped: str = "",
    household: list[str] | None = None,
    covered_by: str = "",
) -> dict[str, Any]:
    """One contact's line of the report (its attempts in order), counted into ``totals``.

    ``reveal``: the plaintext number, only for an operator's audited export (report_csv).
    Issue 12: a contact covered by its household's call (``covered_by``: the contact
    whose call it was) shows that call's outcome and attempts, counted once in the
    totals; ``skipped`` says why a contact had no call (not-primary, other-purpose,
    reached-elsewhere); ``household``: every contact the call covered.
    """
    latest = history[-1] if history else None
    outcome = (
        latest.outcome.value
        if latest and latest.outcome
        else "in-progress"
        if latest
        else skipped
        if skipped and not covered_by
        else "pending"
    )
    placed = sum(1 for a in history if _placed(a))
    totals.contacts += 1
    if not covered_by:
        totals.calls_placed += placed
    totals.outcomes[outcome] += 1
    for a in history if not covered_by else ():
        if not a.allowed:
            totals.blocked_by_reason[a.reason] += 1
    language = latest.language if latest else None
    fallback = bool(language and language != contact.language)
    totals.language_fallbacks += fallback
    # a district's id column may itself be a phone number: masked like one (C18)
    shown = (lambda text: text) if reveal else mask_text
    detail = latest.detail if latest and not latest.allowed else (latest.note if latest else "")
    cut = [a.outcome.value for a in history[:-1] if a.outcome in INTERRUPTED_OUTCOMES]
    if cut:
        # issue 13: staff see that an earlier call was cut short and dialled again
        detail = "; ".join(p for p in (detail, f"dialled again after {', '.join(cut)}") if p)
    return {
        "contact": shown(contact.external_id),
        "number": contact.number if reveal else mask_number(contact.number),
        "outcome": outcome,
        "attempts": placed,
        "gate": latest.reason if latest else "",
        "detail": shown(detail),
        "language": language or contact.language,
        "language_fallback": fallback,
        "hangup_cause": latest.hangup_cause if latest else None,
        "dial_status": latest.dial_status if latest else None,
        "call_id": latest.id if latest else None,
        "household": [shown(m) for m in household or []],
        "covered_by": shown(covered_by),
    }


async def report_rows(
    store: Store,
    campaign: Campaign,
    totals: ReportTotals,
    page_size: int = REPORT_PAGE,
    *,
    reveal: bool = False,
) -> AsyncIterator[dict[str, Any]]:
    """Every contact's report line, in dialling order, one page in memory at a time."""
    after = -1
    while True:
        contacts = await store.contacts.page(
            campaign.version_id, after, page_size, with_fields=False
        )
        if not contacts:
            return
        first, last = contacts[0].id, contacts[-1].id
        by_contact: dict[int, list[AttemptRow]] = {}
        for attempt in await store.campaigns.attempts_of_contacts(campaign.id, first, last):
            by_contact.setdefault(attempt.contact_id, []).append(attempt)
        # issue 12: who had no call of their own, whose call covered them, and the
        # households the page's calls covered (leads may sit on other pages)
        skipped = await store.campaigns.households_of_contacts(campaign.id, first, last)
        leads = {lead for _why, lead in skipped.values() if lead is not None}
        leads |= {c.id for c in contacts if c.id not in skipped}
        members = await store.campaigns.covered_by(campaign.id, leads)
        elsewhere = [lead for lead in leads if lead not in by_contact and lead in members]
        for attempt in await store.campaigns.attempts_of_ids(campaign.id, elsewhere):
            by_contact.setdefault(attempt.contact_id, []).append(attempt)
        known = {c.id: c.external_id for c in contacts}
        unknown = {m for lead in leads for m in (lead, *members.get(lead, ())) if m not in known}
        known.update((c.id, c.external_id) for c in await store.contacts.by_ids(unknown))
        for contact in contacts:
            why, lead = skipped.get(contact.id, ("", None))
            call = lead if lead is not None else contact.id
            household = [known[m] for m in (call, *members.get(call, ()))]
            yield contact_row(
                contact,
                by_contact.get(call, []) if not why or lead is not None else [],
                totals,
                reveal=reveal,
                skipped=why,
                household=household if len(household) > 1 else [],
                covered_by=known[lead] if lead is not None else "",
            )
        if len(contacts) < page_size:
            return
        after = contacts[-1].id


async def report_json_chunks(store: Store, name: str) -> AsyncIterator[str]:
    """The report as JSON text, streamed: the same object ``campaign_report`` returns,
    with ``per_contact`` first and the totals (counted on the way) after it."""
    campaign = await store.campaigns.get(name)
    totals = ReportTotals()
    head = {"campaign": campaign.name, "purpose": campaign.purpose.value}
    yield json.dumps(head)[:-1] + ', "per_contact": ['
    first = True
    async for row in report_rows(store, campaign, totals):
        yield ("\n  " if first else ",\n  ") + json.dumps(row)
        first = False
    tail = json.dumps(totals.to_json())
    yield "\n], " + tail[1:] + "\n"


async def campaign_report(store: Store, name: str, *, reveal: bool = False) -> dict[str, Any]:
    """The whole report as one dict (small campaigns, the web page). ``reveal``:
    plaintext numbers, only for an operator's audited export (report_csv)."""
    campaign = await store.campaigns.get(name)
    totals = ReportTotals()
    per_contact = [row async for row in report_rows(store, campaign, totals, reveal=reveal)]
    return {
        "campaign": campaign.name,
        "purpose": campaign.purpose.value,
        **totals.to_json(),
        "per_contact": per_contact,
    }
