"""``consent import``: a consent export, all rows or none (C3), streamed (issue 11).

Two steps, neither holding the file in memory nor the store's write lock for
long:

1. read and check every row (number, scope, source, dates, C3 completeness),
   keeping the good ones in a private temporary file (opened unlinked, 0600,
   so it is gone when closed, whatever happens). Any bad row: the import is
   refused with the rows named, and nothing was written;
2. stage the rows in the store in short transactions (sealed and MAC'd there,
   bound to their ids, C18/C19) under a batch the gate does not read yet, then
   publish the batch in one short transaction. If anything fails on the way,
   the staged rows are deleted again, audited.
"""

from __future__ import annotations

import asyncio
import pickle
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from dialer.csvfiles import RowErrors, consent_builder, open_csv
from dialer.errors import CsvError, DialerError
from dialer.model.consents import ConsentInput
from dialer.settings import Settings
from dialer.store.consent import STAGE_ROWS
from dialer.store.store import Store


def _check(
    settings: Settings, store: Store, file: Path, shown: str, no_contact: bool
) -> tuple[IO[bytes], int, RowErrors]:
    """Step 1 (a worker thread): every row checked; good records to a spool file."""
    source = open_csv(file)
    now = store.clock()
    build = consent_builder(
        source,
        settings.organisation.default_region,
        now,
        zone=settings.organisation.timezone,
        no_contact=no_contact,
    )
    errors = RowErrors()
    # 0600 and unlinked at once; closed by the caller (or below, on error)
    spool = tempfile.TemporaryFile(dir=store.db.path.parent)  # noqa: SIM115
    batch: list[ConsentInput] = []
    rows = good = 0
    try:
        for line, values in source.rows():
            rows += 1
            if isinstance(values, str):
                errors.add(line, values)
                continue
            try:
                record = build(line, values)
            except DialerError as exc:
                errors.add(line, str(exc))
                continue
            if errors.count:
                continue  # refused anyway: read on to name every bad row
            batch.append(record)
            good += 1
            if len(batch) >= STAGE_ROWS:
                pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
                batch = []
        if batch:
            pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
        if rows == 0:
            raise CsvError(f"{shown}: no data rows after the header")
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, good, errors


def _batches(spool: IO[bytes]) -> Iterator[list[ConsentInput]]:
    while True:
        try:
            # our own file, written a moment ago by this process (never outside input)
            yield pickle.load(spool)  # noqa: S301
        except EOFError:
            return


async def stream_consents(
    settings: Settings,
    store: Store,
    file: Path,
    operator: str,
    *,
    shown_name: str = "",
    no_contact: bool = False,
) -> int:
    """Import a consent export: every row, or (any bad row) none. Returns the count."""
    shown = shown_name or str(file)
    batch_id = f"{Path(shown).name}:{uuid.uuid4().hex[:8]}"
    for stale in await store.consent.stale_batches():
        await store.consent.discard_batch(stale)
    spool, good, errors = await asyncio.to_thread(_check, settings, store, file, shown, no_contact)
    with spool:
        if errors.count:
            raise CsvError(
                f"{shown}: {errors.count:,} bad row(s), nothing imported:\n{errors.summary()}"
            )
        await store.consent.begin_batch(batch_id, Path(shown).name, operator)
        try:
            for values in _batches(spool):
                await store.consent.stage(batch_id, values, operator)
            await store.consent.publish_batch(batch_id, good, operator)
        except BaseException:
            await asyncio.shield(store.consent.discard_batch(batch_id))
            raise
    return good
