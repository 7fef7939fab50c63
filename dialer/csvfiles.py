"""Reading the CSV exports staff bring (SIS contact exports, consent exports).

Pure parsing, streamed: rows come off the file one at a time, so memory does
not grow with the file (issue 11: a million-row export). ``open_csv`` checks
the whole file first (size, text encoding, NUL bytes) without keeping it,
then ``CsvFile.rows`` yields ``(row number, values)``. Row numbers are the
file's record numbers as a spreadsheet shows them (header = row 1), so staff
can find the row. ``read_contacts``/``read_consents``/``read_numbers`` build
whole lists on top of the stream, for small files and tests.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import stat
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

from dialer.consent.model import ConsentSource, Purpose
from dialer.errors import CsvError, DialerError
from dialer.model.consents import ConsentInput
from dialer.model.contact import NewContact
from dialer.numbers import normalise, normalise_with_zones

T = TypeVar("T")

PHONE_COLUMNS = ("phone", "phone_number", "number", "telephone", "mobile", "cell")
ID_COLUMNS = ("id", "contact_id", "student_id", "external_id")
LANGUAGE_COLUMNS = ("language", "lang", "preferred_language")

MAX_FILE_BYTES = 512 * 1024 * 1024
#: the encoding check reads this much at a time (never the whole file)
_SCAN_BYTES = 1 << 20
#: the delimiter is guessed from this many characters, as spreadsheets do
_SNIFF_CHARS = 4096
#: rows of a refused file kept for the message; the rest are counted
MAX_KEPT_ERRORS = 1000


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str


@dataclass
class RowErrors:
    """The first ``MAX_KEPT_ERRORS`` row errors and how many there were in all.

    A file of a million bad rows must not hold a million messages in memory.
    """

    kept: list[RowError] = field(default_factory=list)
    count: int = 0

    def add(self, row: int, reason: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_KEPT_ERRORS:
            self.kept.append(RowError(row, reason))

    def summary(self, shown: int = 20) -> str:
        lines = "\n".join(f"  row {e.row}: {e.reason}" for e in self.kept[:shown])
        more = self.count - min(shown, len(self.kept))
        # thousands separated: a 7-digit count would read as a phone number, masked
        return lines + (f"\n  ... and {more:,} more" if more > 0 else "")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    records: list[T]
    errors: list[RowError]
    rows: int


#: a data row: its number and either its values or why it cannot be read
Row = tuple[int, list[str] | str]


@dataclass(frozen=True)
class CsvFile:
    """A checked CSV file: header names (normalised) and how to read it."""

    path: Path
    names: list[str]
    encoding: str
    dialect: type[csv.Dialect] | csv.Dialect
    size: int

    def rows(self) -> Iterator[Row]:
        """Data rows in file order; blank rows skipped (their numbers are kept).

        A row with the wrong number of fields comes as its error text; a CSV
        syntax error stops the file with ``CsvError`` naming the row.
        """
        with self._text() as text:
            reader = csv.reader(text, self.dialect)
            next(reader, None)  # the header, checked by open_csv
            line = 1
            width = len(self.names)
            try:
                for values in reader:
                    line += 1
                    if not "".join(values).strip():
                        continue
                    if len(values) != width:
                        yield line, f"has {len(values)} fields, header has {width}"
                        continue
                    yield line, list(map(str.strip, values))
            except csv.Error as exc:
                raise CsvError(f"{self.path}: row {line + 1}: {exc}") from exc

    def _text(self) -> io.TextIOWrapper:
        # newline="\n": lines end at LF only, and CR stays in the line for the csv
        # module to judge, exactly as when the whole text was read at once
        try:
            return open(self.path, encoding=self.encoding, newline="\n")
        except OSError as exc:
            raise CsvError(f"{self.path}: cannot read: {exc.strerror}") from exc


def open_csv(path: Path) -> CsvFile:
    """Check ``path`` (size, encoding, NUL bytes, header) without loading it."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise CsvError(f"{path}: is a directory, not a CSV file")
        if not stat.S_ISREG(info.st_mode):
            raise CsvError(f"{path}: is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise CsvError(f"{path}: file is larger than {MAX_FILE_BYTES // 2**20} MiB")
        encoding, has_nul = _scan(path)
    except FileNotFoundError as exc:
        raise CsvError(f"{path}: file not found") from exc
    except IsADirectoryError as exc:
        raise CsvError(f"{path}: is a directory, not a CSV file") from exc
    except PermissionError as exc:
        raise CsvError(f"{path}: permission denied") from exc
    except OSError as exc:
        raise CsvError(f"{path}: cannot read: {exc.strerror}") from exc
    if has_nul:
        raise CsvError(f"{path}: contains NUL bytes; this is not a CSV file")
    probe = CsvFile(path, [], encoding, csv.excel, info.st_size)
    with probe._text() as text:
        sample = text.read(_SNIFF_CHARS)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    with probe._text() as text:
        try:
            header = next(csv.reader(text, dialect))
        except StopIteration as exc:
            raise CsvError(f"{path}: file is empty (no header row)") from exc
        except csv.Error as exc:
            raise CsvError(f"{path}: row 1: {exc}") from exc
    names = [h.strip().lower().replace(" ", "_") for h in header]
    if len(set(names)) != len(names):
        raise CsvError(f"{path}: row 1: duplicate column names")
    return CsvFile(path, names, encoding, dialect, info.st_size)


def _scan(path: Path) -> tuple[str, bool]:
    """The file's encoding (UTF-8, else Windows-1252) and whether it holds NUL bytes.

    One pass in 1 MiB blocks, never the whole file in memory; the verdict is the
    one decoding the whole file at once gives. Windows-1252 is one byte per
    character, so each block can be judged on its own.
    """
    # plain UTF-8 after the BOM: the "utf-8-sig" incremental decoder accepts a
    # file cut inside the BOM (b"\xef") that decoding the whole file refuses
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = is_cp1252 = True
    has_nul = False
    with open(path, "rb") as handle:
        first = True
        while block := handle.read(_SCAN_BYTES):
            if first and block.startswith(codecs.BOM_UTF8):
                block = block[len(codecs.BOM_UTF8) :]
                if not block:
                    continue
            first = False
            has_nul = has_nul or b"\x00" in block
            if is_utf8:
                try:
                    utf8.decode(block)
                except UnicodeDecodeError:
                    is_utf8 = False
            if is_cp1252:
                try:
                    block.decode("cp1252")
                except UnicodeDecodeError:
                    is_cp1252 = False
            if not is_utf8 and not is_cp1252:
                break
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    if is_utf8:
        return "utf-8-sig", has_nul
    if is_cp1252:
        return "cp1252", has_nul  # many SIS exports are Windows-1252
    raise CsvError(f"{path}: not a text file (neither UTF-8 nor Windows-1252)")


def _pick(names: list[str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in names), None)


# -- contacts ----------------------------------------------------------------------


@dataclass(frozen=True)
class ContactColumns:
    """Which column is what in a contact export (picklable: import workers use it)."""

    names: tuple[str, ...]
    phone: int
    ident: int | None
    language: int | None
    extra: tuple[tuple[str, int], ...]

    @classmethod
    def from_header(cls, source: CsvFile) -> ContactColumns:
        names = source.names
        phone = _pick(names, PHONE_COLUMNS)
        if phone is None:
            raise CsvError(
                f"{source.path}: no phone column; expected one of: {', '.join(PHONE_COLUMNS)} "
                f"(found: {', '.join(names)})"
            )
        ident = _pick(names, ID_COLUMNS)
        lang = _pick(names, LANGUAGE_COLUMNS)
        return cls(
            names=tuple(names),
            phone=names.index(phone),
            ident=names.index(ident) if ident else None,
            language=names.index(lang) if lang else None,
            extra=tuple((n, i) for i, n in enumerate(names) if n not in (phone, ident, lang)),
        )


def build_contact(
    columns: ContactColumns,
    line: int,
    values: list[str],
    default_region: str,
    default_language: str,
) -> NewContact:
    """One contact from one row; ``NumberError`` (an InputError) when the number is bad."""
    number, zones = normalise_with_zones(values[columns.phone], default_region)
    language = (
        values[columns.language].lower() if columns.language is not None else ""
    ) or default_language
    ident = values[columns.ident] if columns.ident is not None else ""
    return NewContact(
        external_id=ident or f"row-{line}",
        number=number,
        language=language[:2],
        fields={name: values[i] for name, i in columns.extra if values[i]},
        zones=zones,
    )


def _collect(
    source: CsvFile, build: Callable[[int, list[str]], T]
) -> tuple[list[T], list[RowError], int]:
    records: list[T] = []
    errors: list[RowError] = []
    count = 0
    for line, values in source.rows():
        count += 1
        if isinstance(values, str):
            errors.append(RowError(line, values))
            continue
        try:
            records.append(build(line, values))
        except DialerError as exc:
            errors.append(RowError(line, str(exc)))
    if count == 0:
        raise CsvError(f"{source.path}: no data rows after the header")
    return records, errors, count


def read_contacts(path: Path, default_region: str, default_language: str) -> Parsed[NewContact]:
    """Contacts: a phone column (phone, number, mobile...), optional id and language;
    every other column becomes a per-contact field for message templates.
    Whole lists: for small files (imports stream, see dialer.imports.contacts)."""
    source = open_csv(path)
    columns = ContactColumns.from_header(source)
    records, errors, count = _collect(
        source,
        lambda line, values: build_contact(columns, line, values, default_region, default_language),
    )
    return Parsed(records, errors, count)


# -- consents -----------------------------------------------------------------------

CONSENT_COLUMNS = {
    "phone": "the phone number (any format; E.164 preferred)",
    "scope": "purpose the consent covers: school, informational or telemarketing",
    "source": "enrollment, web-form, staff, keypad or import",
    "method": "how it was obtained, e.g. 'enrollment form 2026-27'",
    "obtained_at": "when, ISO 8601 with time zone (2026-08-15T09:30:00Z) or a date "
    "(the start of that day in the organisation's time zone)",
    "disclosure": "the disclosure text shown, or its SHA-256",
    "evidence_ref": "where the evidence is kept, e.g. 'SIS:form/4411'",
    "contact": "who gave the consent: name or id (stored encrypted); rows without it "
    "are refused unless --no-contact is given (C3)",
    "written": "optional: yes for prior express written consent",
    "signature_ref": "required when written=yes",
}
_REQUIRED_CONSENT = (
    "phone",
    "scope",
    "source",
    "method",
    "obtained_at",
    "disclosure",
    "evidence_ref",
)


def _parse_time(text: str, zone: dt.tzinfo) -> dt.datetime:
    """``obtained_at``: a time with its zone, or a date alone.

    A date alone is the start of that day in the organisation's time zone (an
    enrolment form signed on 2026-08-15 in Chicago was not signed at 19:00 the
    day before, as UTC midnight would have it); the earliest moment of the day,
    so a consent dated the day of a revocation never counts as obtained after
    it (issue 7 item 5).
    """
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CsvError(f"obtained_at {text!r} is not an ISO 8601 date/time") from exc
    if moment.tzinfo is None:
        raise CsvError(f"obtained_at {text!r} needs a time zone (e.g. Z or -05:00)")
    return moment.astimezone(dt.UTC)


_SCOPES = {p.value: p for p in Purpose}
_SOURCES = {s.value: s for s in ConsentSource}


def consent_builder(
    source: CsvFile,
    default_region: str,
    now: dt.datetime,
    *,
    zone: str,
    no_contact: bool = False,
) -> Callable[[int, list[str]], ConsentInput]:
    """The row → ``ConsentInput`` function for a consent export (C3).
    ``zone``: the organisation's time zone, for an ``obtained_at`` that is a date alone.
    ``no_contact``: rows without a contact are accepted (and recorded as such)."""
    tz = zoneinfo.ZoneInfo(zone)
    names = source.names
    missing = [c for c in _REQUIRED_CONSENT if c not in names]
    if missing:
        raise CsvError(f"{source.path}: missing column(s): {', '.join(missing)}")
    at = {name: i for i, name in enumerate(names)}

    def optional(values: list[str], name: str) -> str:
        index = at.get(name)
        return values[index] if index is not None else ""

    # an export lists a number once per scope or per child: parse each text once
    number = lru_cache(maxsize=65536)(normalise)

    def build(_line: int, values: list[str]) -> ConsentInput:
        scope_text, source_text = values[at["scope"]], values[at["source"]]
        scope = _SCOPES.get(scope_text.lower())
        if scope is None:
            raise CsvError(f"scope {scope_text!r} is not school/informational/telemarketing")
        kind = _SOURCES.get(source_text.lower())
        if kind is None:
            choices = ", ".join(s.value for s in ConsentSource)
            raise CsvError(f"source {source_text!r} is not one of {choices}")
        record = ConsentInput(
            number=number(values[at["phone"]], default_region),
            scope=scope,
            source=kind,
            method=values[at["method"]],
            obtained_at=_parse_time(values[at["obtained_at"]], tz),
            disclosure=values[at["disclosure"]],
            evidence_ref=values[at["evidence_ref"]],
            contact_ref=optional(values, "contact"),
            signature_ref=optional(values, "signature_ref"),
            written=optional(values, "written").lower() in ("yes", "y", "true", "1"),
            no_contact=no_contact and not optional(values, "contact").strip(),
        )
        record.validate(now)
        return record

    return build


def read_consents(
    path: Path,
    default_region: str,
    now: dt.datetime,
    *,
    zone: str,
    no_contact: bool = False,
) -> Parsed[ConsentInput]:
    """Consent exports (C3): see ``CONSENT_COLUMNS`` for the documented format.
    ``no_contact``: rows without a contact are accepted (and recorded as such)."""
    source = open_csv(path)
    records, errors, count = _collect(
        source, consent_builder(source, default_region, now, zone=zone, no_contact=no_contact)
    )
    return Parsed(records, errors, count)


def read_numbers(path: Path, default_region: str) -> Parsed[str]:
    """A do-not-call list: one number per line, or a CSV with a phone column."""
    source = open_csv(path)
    phone = _pick(source.names, PHONE_COLUMNS)
    if phone is None:
        raise CsvError(f"{path}: no phone column; expected one of: {', '.join(PHONE_COLUMNS)}")
    index = source.names.index(phone)
    records, errors, count = _collect(
        source, lambda _line, values: normalise(values[index], default_region)
    )
    return Parsed(records, errors, count)
