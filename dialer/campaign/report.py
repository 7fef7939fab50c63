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
    contact: Contact, history: list[AttemptRow], totals: ReportTotals, *, reveal: bool = False
) -> dict[str, Any]:
    """One contact's line of the report (its attempts in order), counted into ``totals``.

    ``reveal``: the plaintext number, only for an operator's audited export (report_csv).
    """
    latest = history[-1] if history else None
    outcome = (
        latest.outcome.value
        if latest and latest.outcome
        else "in-progress"
        if latest
        else "pending"
    )
    placed = sum(1 for a in history if _placed(a))
    totals.contacts += 1
    totals.calls_placed += placed
    totals.outcomes[outcome] += 1
    for a in history:
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
        by_contact: dict[int, list[AttemptRow]] = {}
        for attempt in await store.campaigns.attempts_of_contacts(
            campaign.id, contacts[0].id, contacts[-1].id
        ):
            by_contact.setdefault(attempt.contact_id, []).append(attempt)
        for contact in contacts:
            yield contact_row(contact, by_contact.get(contact.id, []), totals, reveal=reveal)
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
