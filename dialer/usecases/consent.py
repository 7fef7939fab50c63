"""Consent look-up, revocation on someone's behalf, and consent-file imports
(C3, C5-C7). Every revocation, whatever its channel, ends in the store's one
revocation function (``ConsentStore.revoke``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.consent.model import RevocationChannel
from dialer.errors import CsvError, DialerError
from dialer.imports.consents import stream_consents
from dialer.model.consents import DurableRevocation
from dialer.numbers import normalise
from dialer.settings import Settings
from dialer.store.store import Store

#: how many bad rows a refused consent file lists (the rest are counted)
SHOWN_ROW_ERRORS = 20


@dataclass(frozen=True)
class Revoked:
    number: str  # E.164: for the caller's own use only, never shown or logged
    result: DurableRevocation


def parse_number(settings: Settings, raw: str) -> str:
    try:
        return normalise(raw, settings.organisation.default_region)
    except DialerError as exc:
        exc.field = exc.field or "number"
        raise


async def lookup(settings: Settings, store: Store, raw_number: str) -> dict[str, Any]:
    """A number's history: consents, revocations, lists, calls (number masked)."""
    return await store.history.number_history(parse_number(settings, raw_number))


async def revoke(
    settings: Settings,
    store: Store,
    raw_number: str,
    channel: RevocationChannel,
    operator: str,
    *,
    ref: str = "",
) -> Revoked:
    """Revoke consent for every non-emergency purpose, effective at once (C5-C7)."""
    e164 = parse_number(settings, raw_number)
    # the one revocation function (C5): durable in the store or the journal
    result = await store.revoke_durably(e164, channel, source_ref=ref, recorded_by=operator)
    return Revoked(e164, result)


async def import_consents(
    settings: Settings,
    store: Store,
    file: Path,
    operator: str,
    *,
    shown_name: str = "",
    no_contact: bool = False,
) -> int:
    """A consent export: any bad row and nothing is written (C3). Streamed, staged in
    short transactions and published at once (``dialer.imports.consents``, issue 11).
    ``no_contact``: rows that name no contact are accepted, and reported as such."""
    try:
        return await stream_consents(
            settings, store, file, operator, shown_name=shown_name, no_contact=no_contact
        )
    except CsvError as exc:
        if shown_name:
            raise CsvError(str(exc).replace(str(file), shown_name), field="file") from None
        exc.field = exc.field or "file"
        raise
