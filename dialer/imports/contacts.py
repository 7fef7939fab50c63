"""``contacts import``: a contact export streamed into a new list version (issue 11).

The file is read one row at a time; batches of rows are normalised (number,
time zones: resolved here once, C12), sealed (C18) and written by
``store.listload`` in short committed chunks into a version nobody reads
yet. Only when the whole file went through is the version published, in one
short transaction. So whatever goes wrong -- a bad row under ``--strict``, a
syntax error in row 900,000, a full disk, Ctrl-C -- nothing is half-published
and the partial version is deleted. Memory holds a few batches, never the file.

Invalid rows are skipped and reported (the first ``MAX_KEPT_ERRORS`` kept,
all counted); with ``strict`` any invalid row refuses the file.

Three kinds of file come in (issue 12): a plain contact list (a phone column),
a flat SIS export (one row per student-guardian pair, ``dialer.imports.sis``)
and a OneRoster bundle (a zip, ``dialer.imports.oneroster``). When the list
exists, the import also says what changed (``dialer.model.listdiff``); with
``dry_run`` it says only that, and writes nothing.
"""

from __future__ import annotations

import asyncio
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from dialer.consent.crypto import Keys, Sealer
from dialer.csvfiles import (
    PHONE_COLUMNS,
    ContactColumns,
    CsvFile,
    Row,
    RowError,
    RowErrors,
    build_contact,
    open_csv,
)
from dialer.errors import CsvError, DialerError, NotFoundError
from dialer.imports.oneroster import Roster, RosterPhone, open_bundle
from dialer.imports.pool import PARALLEL_FROM_BYTES, Preparer
from dialer.imports.sis import SisColumns, looks_like_flat_sis, read_phone
from dialer.model.contact import ColumnMapping, NewContact
from dialer.model.listdiff import ListDiff
from dialer.settings import Settings
from dialer.store.contacts import ContactStore
from dialer.store.db import ts
from dialer.store.listload import (
    ContactKey,
    ContactRow,
    LoadedVersion,
    VersionWriter,
    discard_version,
    prepare_contact,
    publish_or_discard,
    read_version,
)
from dialer.store.scratch import DiffDb
from dialer.store.store import Store

#: rows per batch handed to a worker
BATCH_ROWS = 2000

T = TypeVar("T")


@dataclass(frozen=True)
class ContactImport:
    list_name: str
    imported: int
    #: the first ``MAX_KEPT_ERRORS`` rejected rows, and how many there were
    rejected: list[RowError]
    #: contacts per language (en, es ...) of the rows loaded
    languages: dict[str, int]
    rejected_count: int = 0
    #: repeated rows (same id and number) loaded once
    duplicates: int = 0
    #: data rows read
    rows: int = 0
    version_id: int = 0
    #: rows of a SIS export not loaded because the link is restricted (issue 12)
    restricted: int = 0
    #: what the import changes in the list (when the list existed before)
    diff: ListDiff | None = None
    #: nothing was written: only the diff was worked out
    dry_run: bool = False


@dataclass(frozen=True)
class _Job:
    """What a worker needs to prepare a batch (pickled with each batch)."""

    keys: Keys
    #: how rows are read; None: the items are a OneRoster bundle's phones
    columns: ContactColumns | SisColumns | None
    region: str
    language: str
    version_id: int
    created_at: str


@dataclass
class _Prepared:
    rows: list[ContactRow]
    keys: list[ContactKey]
    errors: list[tuple[int, str]]
    read: int
    restricted: int = 0
    #: where each row came from, for the diff ("row 12")
    places: list[str] = field(default_factory=list)


#: contacts one row may give (a flat SIS row: one per phone); ids leave room
TARGETS_PER_ROW = 8


_sealers: dict[Keys, Sealer] = {}


def _prepare_batch(job: _Job, batch: list[Row] | list[tuple[int, RosterPhone]]) -> _Prepared:
    """Normalise, resolve zones, seal: one batch, in a worker or in-process."""
    sealer = _sealers.get(job.keys)
    if sealer is None:
        sealer = _sealers[job.keys] = Sealer(job.keys)
    out = _Prepared([], [], [], len(batch))
    columns = job.columns
    for item in batch:
        if columns is None or isinstance(item[1], RosterPhone | NewContact):
            position, thing = item
            if isinstance(thing, RosterPhone):
                _prepare_roster_phone(job, sealer, position, thing, out)
            elif isinstance(thing, NewContact):  # kept from the list (a delta bundle)
                row, key = prepare_contact(sealer, job.version_id, position, thing, job.created_at)
                out.rows.append(row)
                out.keys.append(key)
                out.places.append(f"contact {thing.external_id}")
            continue
        line, values = item
        if isinstance(values, str):
            out.errors.append((line, values))
            continue
        try:
            if isinstance(columns, SisColumns):
                contacts, problems, restricted = columns.targets(
                    line, values, job.region, job.language
                )
                out.errors.extend((line, problem) for problem in problems)
                out.restricted += restricted
            else:
                contacts = [build_contact(columns, line, values, job.region, job.language)]
        except DialerError as exc:
            out.errors.append((line, str(exc)))
            continue
        for k, contact in enumerate(contacts[:TARGETS_PER_ROW]):
            row, key = prepare_contact(
                sealer, job.version_id, line * TARGETS_PER_ROW + k, contact, job.created_at
            )
            out.rows.append(row)
            out.keys.append(key)
            out.places.append(f"row {line}")
    return out


def _prepare_roster_phone(
    job: _Job, sealer: Sealer, position: int, phone: RosterPhone, out: _Prepared
) -> None:
    try:
        number, zones, extension = read_phone(phone.raw_number, job.region)
    except DialerError as exc:
        out.errors.append((phone.row, f"users.csv: {phone.kind} phone: {exc}"))
        return
    fields = {
        name: value
        for name, value in (
            ("student_name", phone.student_name),
            ("guardian_name", phone.guardian_name),
            ("relationship", phone.relationship),
            ("extension", extension),
            # what a later delta bundle's agentSourcedIds name this student by
            ("sourced_id", phone.student_ref),
        )
        if value
    }
    contact = NewContact(
        external_id=phone.student,
        number=number,
        language=(phone.language.lower() or job.language)[:2],
        fields=fields,
        zones=zones,
        guardian_id=phone.guardian,
        phone_kind=phone.kind,
        phone_rank=phone.rank,
    )
    row, key = prepare_contact(sealer, job.version_id, position, contact, job.created_at)
    out.rows.append(row)
    out.keys.append(key)
    out.places.append(f"users.csv row {phone.row}")


def _batches(rows: Iterator[T], size: int = BATCH_ROWS) -> Iterator[list[T]]:
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _Outcome:
    loaded: LoadedVersion | None = None
    rows: int = 0
    errors: RowErrors = field(default_factory=RowErrors)
    restricted: int = 0
    diff: ListDiff | None = None


@dataclass
class _Source:
    """Where the items come from: a CSV file's rows, or a bundle's phones."""

    size: int
    csv: CsvFile | None = None
    roster: Roster | None = None
    #: a delta bundle: merged into this version of the list (database, sealer, id)
    merge_into: tuple[Path, Sealer, int] | None = None

    def batches(
        self,
    ) -> Iterator[list[Row]] | Iterator[list[tuple[int, RosterPhone | NewContact]]]:
        if self.csv is not None:
            return _batches(self.csv.rows())
        assert self.roster is not None
        if self.merge_into is not None:
            return _batches(enumerate(_merged(self.roster, *self.merge_into), start=1))
        phones: Iterator[RosterPhone | NewContact] = self.roster.phones()
        return _batches(enumerate(phones, start=1))


def _merged(
    roster: Roster, database: Path, sealer: Sealer, version_id: int
) -> Iterator[RosterPhone | NewContact]:
    """A delta bundle applied to the list: its contacts kept, those of deleted
    users dropped, those of guardians the bundle changes rebuilt from it."""
    active, deleted = roster.users_in_bundle()
    for contact in read_version(database, sealer, version_id):
        student = contact.fields.get("sourced_id", contact.external_id)
        guardian = contact.guardian_id
        if student in deleted or guardian in deleted:
            continue
        if guardian in active:
            roster.add_known(
                student,
                contact.external_id,
                contact.fields.get("student_name", ""),
                contact.language,
                guardian,
            )
            continue
        yield NewContact(
            external_id=contact.external_id,
            number=contact.number,
            language=contact.language,
            fields=contact.fields,
            zones=contact.zones,
            guardian_id=contact.guardian_id,
            phone_kind=contact.phone_kind,
            phone_rank=contact.phone_rank,
            purposes=contact.purposes,
        )
    yield from roster.phones()


def _load(
    source: _Source,
    job: _Job,
    database: Path,
    strict: bool,
    stop: threading.Event,
    shown: str,
    diff: DiffDb | None,
    write: bool,
) -> _Outcome:
    """Read, prepare and write the whole file (a worker thread)."""
    outcome = _Outcome()
    writer = VersionWriter(database, job.version_id) if write else None
    written = 0
    try:
        with Preparer(parallel=source.size >= PARALLEL_FROM_BYTES) as preparer:
            for prepared in preparer.map(partial(_prepare_batch, job), source.batches()):
                if stop.is_set():
                    raise asyncio.CancelledError
                outcome.rows += prepared.read
                outcome.restricted += prepared.restricted
                for line, reason in prepared.errors:
                    outcome.errors.add(line, reason)
                if strict and outcome.errors.count:
                    continue  # refused anyway: read on only to count the bad rows
                written += len(prepared.rows)
                if diff is not None:
                    diff.add(
                        "new",
                        (
                            (r[2], r[9], r[10], r[3], place)
                            for r, place in zip(prepared.rows, prepared.places, strict=True)
                        ),
                    )
                if writer is not None:
                    writer.add(prepared.rows, prepared.keys)
        if outcome.rows == 0:
            raise CsvError(f"{shown}: no data rows after the header")
        if strict and outcome.errors.count:
            raise CsvError(
                f"{shown}: {outcome.errors.count:,} invalid row(s), nothing loaded:\n"
                + outcome.errors.summary()
            )
        if written == 0:
            raise CsvError(f"{shown}: no valid rows; nothing loaded")
        if writer is not None:
            outcome.loaded = writer.finish()
        if diff is not None:
            outcome.diff = diff.compare()
        return outcome
    finally:
        if writer is not None:
            writer.close()


async def stream_contacts(
    settings: Settings,
    store: Store,
    file: Path,
    list_name: str,
    operator: str,
    *,
    replace: bool = False,
    strict: bool = False,
    shown_name: str = "",
    mapping: ColumnMapping | None = None,
    dry_run: bool = False,
) -> ContactImport:
    """Stream ``file`` into a new version of ``list_name`` and publish it.

    ``shown_name``: how messages name the file (an upload's original name).
    ``mapping``: read it as a flat SIS export with these columns (issue 12); a
    file whose header looks like one is read so without a mapping.
    ``dry_run``: work out what would change in the list, write nothing.
    """
    shown = shown_name or str(file)
    source, columns = await asyncio.to_thread(_open_source, file, shown, mapping)
    try:
        return await _import(
            settings, store, source, columns, list_name, operator, replace, strict, shown, dry_run
        )
    finally:
        if source.roster is not None:
            source.roster.close()


def _open_source(
    file: Path, shown: str, mapping: ColumnMapping | None
) -> tuple[_Source, ContactColumns | SisColumns | None]:
    # a regular file only: is_zipfile() would read a device (/dev/zero) for ever
    if file.is_file() and zipfile.is_zipfile(file):
        archive, bundle = open_bundle(file, shown)
        roster = Roster(archive, bundle, shown)
        try:
            roster.load()
            if bundle.users_mode == "bulk":
                # a delta names users of earlier bundles: checked against the list
                roster.check_links()
        except BaseException:
            roster.close()
            raise
        return _Source(size=file.stat().st_size, roster=roster), None
    csv_file = open_csv(file)
    columns: ContactColumns | SisColumns
    if mapping is not None or looks_like_flat_sis(csv_file.names, PHONE_COLUMNS):
        columns = SisColumns.resolve(csv_file.names, str(file), mapping)
    else:
        columns = ContactColumns.from_header(csv_file)
    return _Source(size=csv_file.size, csv=csv_file), columns


async def _old_keys(store: Store, list_name: str, diff: DiffDb) -> bool:
    """The list's current contents into the diff; False when there is no list yet."""
    try:
        version = await store.contacts.published(list_name)
    except NotFoundError:
        return False
    after = -1
    while page := await store.contacts.page(version.id, after, 2000, with_fields=False):
        rows = [
            (
                c.external_id,
                c.guardian_id,
                c.phone_kind,
                store.sealer.index(c.number),
                f"contact {c.external_id}",
            )
            for c in page
        ]
        await asyncio.to_thread(diff.add, "old", rows)
        after = page[-1].id
    return True


async def _import(
    settings: Settings,
    store: Store,
    source: _Source,
    columns: ContactColumns | SisColumns | None,
    list_name: str,
    operator: str,
    replace: bool,
    strict: bool,
    shown: str,
    dry_run: bool,
) -> ContactImport:
    contacts = store.contacts
    if source.roster is not None and source.roster.bundle.users_mode == "delta":
        try:
            current = await contacts.published(list_name)
        except NotFoundError:
            raise CsvError(
                f"{shown}: a delta bundle (manifest.csv file.users=delta) changes an existing "
                f"list; load the bulk bundle into {list_name!r} first"
            ) from None
        source.merge_into = (contacts.db.path, store.sealer, current.id)
        replace = True  # a delta is the list's next version by definition
    diff: DiffDb | None = DiffDb()
    assert diff is not None
    try:
        if not await _old_keys(store, list_name, diff) and not dry_run:
            diff.close()
            diff = None
        if dry_run:
            version_id = 0
        else:
            await _clean_stale(contacts)
            version_id = await contacts.begin_version(
                list_name, replace=replace, operator=operator, source_name=Path(shown).name
            )
        job = _Job(
            keys=store.sealer.keys,
            columns=columns,
            region=settings.organisation.default_region,
            language=settings.audio.default_language,
            version_id=version_id,
            created_at=ts(store.clock()),
        )
        outcome = await _run_load(source, job, contacts, strict, shown, diff, not dry_run)
    except BaseException:
        if diff is not None:
            diff.close()
        if not dry_run and "version_id" in locals() and version_id:
            # nothing half-published: the version was never visible; delete its rows
            await asyncio.shield(discard_version(contacts, version_id))
        raise
    if diff is not None:
        diff.close()
    if dry_run:
        return ContactImport(
            list_name=list_name,
            imported=0,
            rejected=outcome.errors.kept,
            languages={},
            rejected_count=outcome.errors.count,
            rows=outcome.rows,
            restricted=outcome.restricted,
            diff=outcome.diff,
            dry_run=True,
        )
    loaded = outcome.loaded
    assert loaded is not None
    await publish_or_discard(contacts, version_id, loaded, replace=replace, operator=operator)
    return ContactImport(
        list_name=list_name,
        imported=loaded.contacts,
        rejected=outcome.errors.kept,
        languages=loaded.languages,
        rejected_count=outcome.errors.count,
        duplicates=loaded.duplicates,
        rows=outcome.rows,
        version_id=version_id,
        restricted=outcome.restricted,
        diff=outcome.diff,
    )


async def _run_load(
    source: _Source,
    job: _Job,
    contacts: ContactStore,
    strict: bool,
    shown: str,
    diff: DiffDb | None,
    write: bool,
) -> _Outcome:
    stop = threading.Event()
    worker = asyncio.ensure_future(
        asyncio.to_thread(_load, source, job, contacts.db.path, strict, stop, shown, diff, write)
    )
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        stop.set()  # the thread stops at its next batch; wait for it to let go
        await asyncio.gather(worker, return_exceptions=True)
        raise


async def _clean_stale(contacts: ContactStore) -> None:
    """Delete versions a killed import left behind (their process is gone)."""
    for version_id in await contacts.stale_versions():
        await discard_version(contacts, version_id)
