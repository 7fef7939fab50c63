"""``revoke_durably``: the one revocation function every channel ends in (C5, C10).

Keypad (the call state machine), hotline, SMS, staff and web all call
:meth:`dialer.store.store.Store.revoke_durably`, which is this module's
:func:`revoke_durably`. When it returns, the revocation is durable somewhere,
so the caller may then hear the confirmation:

1. the store: one transaction with ``synchronous = FULL``; a failure (lock
   not granted in time, disk full, I/O error) is retried with a short
   backoff until ``budget_s`` (default :data:`REVOCATION_BUDGET_S`) is spent,
   each try waiting at most :data:`TRY_WAIT_S` for the write lock;
2. otherwise the revocation journal (:mod:`dialer.store.journal`): appended
   and fsynced into space the file already owns. A background task moves it
   into the store as soon as the store takes writes again, and every process
   that opens the store replays it first; meanwhile the gate blocks the
   number like a stored revocation (C6);
3. if even the journal cannot be written, :class:`~dialer.errors.StoreError`:
   the caller must *not* be told the opt-out worked (the keypad route
   apologises instead), and the log says so at error level.

The budget is what a caller waits in silence after pressing 9 before the
confirmation plays: 3 s (README "Operations").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3

import structlog

from dialer.consent.model import RevocationChannel
from dialer.errors import StoreError
from dialer.masking import mask_text
from dialer.model.consents import DurableRevocation
from dialer.store.consent import ConsentStore
from dialer.store.db import ts
from dialer.store.journal import JournalEntry, RevocationJournal

__all__ = [
    "REVOCATION_BUDGET_S",
    "TRY_WAIT_S",
    "DurableRevocation",
    "replay_journal",
    "revoke_durably",
]

log = structlog.get_logger("dialer.revocation")

#: how long a revocation may try the store before it goes to the journal
REVOCATION_BUDGET_S = 3.0
#: one try's wait for the write lock (another process's import, a checkpoint)
TRY_WAIT_S = 1.0
_FIRST_BACKOFF_S = 0.05
_MAX_BACKOFF_S = 0.4


async def revoke_durably(
    consent: ConsentStore,
    journal: RevocationJournal | None,
    number: str,
    channel: RevocationChannel,
    *,
    source_ref: str = "",
    received_at: dt.datetime | None = None,
    recorded_by: str = "system",
    budget_s: float = REVOCATION_BUDGET_S,
    attestation: str | None = None,
) -> DurableRevocation:
    """Record a revocation in the store, or else in the fsynced journal (see module doc).

    ``attestation``: for the hotline, how far the trunk vouched for the caller
    ID (dialer.hotline.caller_attestation); kept with the row (issue 8 item 7).
    """
    received = received_at or consent.clock()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    backoff = _FIRST_BACKOFF_S
    tries = 0
    last_error = "no attempt"
    while True:
        tries += 1
        remaining = deadline - loop.time()
        try:
            result = await consent.revoke(
                number,
                channel,
                source_ref=source_ref,
                received_at=received,
                recorded_by=recorded_by,
                wait_s=max(min(remaining, TRY_WAIT_S), 0.05),
                attestation=attestation,
            )
            return DurableRevocation(result.number_hash, received, result.revocation_id)
        except (StoreError, sqlite3.Error, OSError) as exc:
            last_error = mask_text(str(exc))
            log.warning(
                "revocation.store_failed", channel=channel.value, tries=tries, error=last_error
            )
        if deadline - loop.time() <= backoff:
            break
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, _MAX_BACKOFF_S)

    if journal is None:
        log.error("revocation.not_recorded", channel=channel.value, error=last_error)
        raise StoreError(
            f"the revocation could not be recorded: the store failed ({last_error}) "
            "and there is no revocation journal"
        )
    entry = JournalEntry.new(
        number_hash=consent.sealer.index(number),
        channel=channel.value,
        received_at=ts(received),
        journaled_at=ts(consent.clock()),
        source_ref=source_ref,
        recorded_by=recorded_by,
        attestation=attestation or "",
    )
    try:
        # fsync may take a while on a struggling disk: never stall other calls
        await asyncio.to_thread(journal.append, entry)
    except StoreError as exc:
        log.error(
            "revocation.not_recorded",
            channel=channel.value,
            store_error=last_error,
            journal_error=mask_text(str(exc)),
        )
        raise StoreError(
            f"the revocation could not be recorded: the store failed ({last_error}) "
            f"and so did the journal ({exc})"
        ) from exc
    log.error(
        "revocation.journaled",
        channel=channel.value,
        journal_id=entry.id,
        store_error=last_error,
        hint="the database refused the write; the opt-out is safe in the journal "
        "and is moved into the database when it recovers",
    )
    return DurableRevocation(entry.number_hash, received, journal_id=entry.id)


async def replay_journal(
    consent: ConsentStore, journal: RevocationJournal, *, wait_s: float | None = None
) -> int:
    """Move every waiting journal entry into the store; returns how many rows were added.

    Raises StoreError when the store still refuses (the entries stay, and the
    gate keeps honouring them).
    """
    snapshot = await asyncio.to_thread(journal.snapshot)
    if not snapshot.entries:
        return 0
    added = await consent.insert_journaled(snapshot.entries, wait_s=wait_s)
    await asyncio.to_thread(journal.mark_replayed, snapshot.end)
    log.warning("revocation.journal_replayed", entries=len(snapshot.entries), added=added)
    return added
