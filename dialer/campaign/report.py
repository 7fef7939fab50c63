"""Campaign reports: outcome per contact (numbers masked, C18), totals, reasons."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dialer.masking import mask_number, mask_text
from dialer.model.outcome import Outcome
from dialer.store.store import Store


def _placed(attempt: Any) -> bool:
    return bool(attempt.allowed) and attempt.outcome is not Outcome.NOT_PLACED


async def campaign_report(store: Store, name: str, *, reveal: bool = False) -> dict[str, Any]:
    """``reveal``: plaintext numbers, only for an operator's audited export (report_csv)."""
    campaign = await store.campaigns.get(name)
    contacts = await store.contacts.contacts(campaign.list_id)
    attempts = await store.campaigns.attempts(campaign.id)
    by_contact: dict[int, list[Any]] = {}
    for attempt in attempts:
        by_contact.setdefault(attempt.contact_id, []).append(attempt)
    per_contact = []
    outcomes: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    fallback = 0
    for contact in contacts:
        history = by_contact.get(contact.id, [])
        latest = history[-1] if history else None
        outcome = (
            latest.outcome.value
            if latest and latest.outcome
            else "in-progress"
            if latest
            else "pending"
        )
        outcomes[outcome] += 1
        for a in history:
            if not a.allowed:
                blocked[a.reason] += 1
        language = latest.language if latest else None
        if language and language != contact.language:
            fallback += 1
        # a district's id column may itself be a phone number: masked like one (C18)
        shown = (lambda text: text) if reveal else mask_text
        per_contact.append(
            {
                "contact": shown(contact.external_id),
                "number": contact.number if reveal else mask_number(contact.number),
                "outcome": outcome,
                "attempts": sum(1 for a in history if _placed(a)),
                "gate": latest.reason if latest else "",
                "detail": shown(
                    latest.detail
                    if latest and not latest.allowed
                    else (latest.note if latest else "")
                ),
                "language": language or contact.language,
                "language_fallback": bool(language and language != contact.language),
                "hangup_cause": latest.hangup_cause if latest else None,
                "dial_status": latest.dial_status if latest else None,
                "call_id": latest.id if latest else None,
            }
        )
    return {
        "campaign": campaign.name,
        "purpose": campaign.purpose.value,
        "contacts": len(contacts),
        "calls_placed": sum(1 for a in attempts if _placed(a)),
        "outcomes": dict(outcomes),
        "blocked_by_reason": dict(blocked),
        "language_fallbacks": fallback,
        "per_contact": per_contact,
    }
